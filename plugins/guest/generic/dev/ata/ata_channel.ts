/**
 * One ATA channel (FreeBSD's ata0/ata1 with the PIIX's bus-master DMA from ata-dma.c): its task file,
 * the IRQ whose count a waiting thread sleeps on (no status polling: each port access is a VM exit),
 * a bounce buffer with its PRD table, and the commands the disk driver issues — IDENTIFY by PIO,
 * READ/WRITE DMA (28- or 48-bit) and FLUSH CACHE.
 */
import type { VcpuApi, VcpuRequest } from '../../../../../core/api/index.js';
import { PAGE_SIZE } from '../../../../../core/public/index.js';
import { type Kernel } from '../../kern/kernel.js';
import { tsleep } from '../../kern/kern_intr.js';
import type { Pcpu } from '../../kern/pcpu.js';
import type { IntrVectors } from '../../x86/intr.js';
import { APIC_IO_INTS, type IoApicDriver } from '../../x86/io_apic.js';
import {
  ATA_ATA_IDENTIFY, ATA_A_RESET, ATA_BMCMD_PORT, ATA_BMCMD_START_STOP, ATA_BMCMD_WRITE_READ, ATA_BMDTP_PORT, ATA_BMSTAT_ERROR, ATA_BMSTAT_INTERRUPT, ATA_BMSTAT_PORT,
  ATA_COMMAND, ATA_COUNT, ATA_CYL_LSB, ATA_CYL_MSB, ATA_DATA, ATA_DEV_SLAVE, ATA_DMA_ENTRY_SIZE, ATA_DMA_EOT, ATA_DRIVE, ATA_D_IBM, ATA_D_LBA, ATA_ERROR,
  ATA_FLUSHCACHE, ATA_FLUSHCACHE48, ATA_READ_DMA, ATA_READ_DMA48, ATA_SECTOR, ATA_STATUS, ATA_S_DRQ, ATA_S_ERROR, ATA_WRITE_DMA, ATA_WRITE_DMA48, DEV_BSIZE,
} from './ata_reg.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

/** Where a channel's registers are. */
export interface AtaChannelResources {
  readonly base: number;
  readonly ctl: number;
  readonly irq: number;
  /** This channel's bus-master registers (BAR4 + 8 × channel); absent: no DMA. */
  readonly bmBase: number | undefined;
}

/** What routing the channel's ISA IRQ takes. */
export interface AtaIntrContext {
  readonly intr: IntrVectors;
  readonly ioapic: IoApicDriver;
  /** The boot CPU's APIC ID: the interrupt is delivered there. */
  readonly apicId: number;
}

/** The IDT vector of ATA IRQ `irq`: the ISA class, as for every legacy IRQ (APIC_IO_INTS + irq). */
export function ataVector(irq: number): number {
  return APIC_IO_INTS + irq;
}

/** A command the drive or the controller failed, or one that never completed. */
export class AtaCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AtaCommandError';
  }
}

/** Pages in the bounce buffer: 128 KiB, FreeBSD's MAXPHYS, so a command moves at most 256 sectors. */
export const ATA_BOUNCE_PAGES = 32;
export const ATA_MAX_DMA_SECTORS = (ATA_BOUNCE_PAGES * PAGE_SIZE) / DEV_BSIZE;
/** How long a command may take before it is given up (FreeBSD's default ATA timeout: 5 s). */
export const ATA_TIMEOUT_NS = 5e9;
const LBA28_LIMIT = 0x1000_0000;
const hex = (n: number): string => `0x${n.toString(16)}`;

/** One channel's driver state: the counters of its interrupt, its bounce buffer, and the command in progress. */
export class AtaChannel {
  /** Interrupts taken on this channel's IRQ. */
  irqs = 0;
  /** Commands issued, and VM exits they cost (port accesses by this driver). */
  commands = 0;
  portAccesses = 0;
  private busy = false;
  /** The bus-master status the last DMA command ended with. */
  private lastBmStatus = 0;
  private prdTable = 0;
  private readonly bounce: number[] = [];

  constructor(
    private readonly k: Kernel,
    /** `ata0`. */
    readonly name: string,
    readonly res: AtaChannelResources,
  ) {}

  private *out(v: VcpuApi, port: number, value: number, size: 1 | 2 | 4 = 1): Gen {
    this.portAccesses++;
    yield* v.outPort(port, size, value);
  }

  private *in(v: VcpuApi, port: number, size: 1 | 2 | 4 = 1): Gen<number> {
    this.portAccesses++;
    return yield* v.inPort(port, size);
  }

  /** Routes the channel's ISA IRQ (edge, active high unless the MADT overrides it) to {@link ataVector}; its handler only counts: the thread that issued the command does the rest. */
  *setupInterrupt(ctx: AtaIntrContext): Gen {
    const channel = this;
    const vector = ataVector(this.res.irq);
    ctx.intr.bind(vector, {
      name: `irq${this.res.irq}: ${this.name}`,
      // eslint-disable-next-line require-yield
      *handle() {
        channel.irqs++;
      },
    });
    const { pin, bits } = ctx.ioapic.isaRoute(this.res.irq);
    yield* ctx.ioapic.route(pin, vector, ctx.apicId, false, bits);
  }

  /** ata_generic_reset: a pulse of SRST; interrupts left enabled. */
  *reset(v: VcpuApi): Gen {
    yield* this.out(v, this.res.ctl, ATA_A_RESET);
    yield* this.out(v, this.res.ctl, 0);
  }

  /** IDENTIFY DEVICE for drive `unit` by PIO: its 512 bytes, or undefined when no ATA disk answers there. */
  *identify(cpu: Pcpu, unit: number): Gen<Uint8Array | undefined> {
    const v = cpu.v;
    yield* this.out(v, this.res.base + ATA_DRIVE, ATA_D_IBM | (unit ? ATA_DEV_SLAVE : 0));
    const present = yield* this.in(v, this.res.ctl);
    if (present === 0 || present === 0xff) return undefined;
    const status = yield* this.command(cpu, ATA_ATA_IDENTIFY, 'IDENTIFY');
    if (status & ATA_S_ERROR || !(status & ATA_S_DRQ)) return undefined;
    const data = new Uint8Array(DEV_BSIZE);
    const view = new DataView(data.buffer);
    for (let i = 0; i < DEV_BSIZE; i += 4) view.setUint32(i, yield* this.in(v, this.res.base + ATA_DATA, 4), true);
    return data;
  }

  /** Takes pages for the bounce buffer and its PRD table, and tells the bus master where the table is. */
  *setupDma(v: VcpuApi): Gen {
    if (this.res.bmBase === undefined || this.prdTable !== 0) return;
    this.prdTable = this.k.phys.allocate() * PAGE_SIZE;
    for (let i = 0; i < ATA_BOUNCE_PAGES; i++) this.bounce.push(this.k.phys.allocate() * PAGE_SIZE);
    yield* this.out(v, this.res.bmBase + ATA_BMDTP_PORT, this.prdTable, 4);
  }

  get dmaReady(): boolean {
    return this.prdTable !== 0;
  }

  /**
   * READ DMA or WRITE DMA of `count` (≤ {@link ATA_MAX_DMA_SECTORS}) sectors at `lba` on drive `unit`
   * through the bounce buffer; a read returns the bytes. Throws {@link AtaCommandError}.
   */
  *dma(cpu: Pcpu, unit: number, write: boolean, lba: number, count: number, data?: Uint8Array): Gen<Uint8Array> {
    const bmBase = this.res.bmBase;
    if (bmBase === undefined || !this.dmaReady) throw new AtaCommandError(`${this.name}: no bus-master DMA`);
    const bytes = count * DEV_BSIZE;
    yield* this.lock(cpu);
    try {
      const v = cpu.v;
      const pages = Math.ceil(bytes / PAGE_SIZE);
      for (let i = 0; i < pages; i++) {
        const length = Math.min(PAGE_SIZE, bytes - i * PAGE_SIZE);
        if (write) v.memory.write(this.bounce[i]!, data!.subarray(i * PAGE_SIZE, i * PAGE_SIZE + length));
        v.memory.writeU32(this.prdTable + i * ATA_DMA_ENTRY_SIZE, this.bounce[i]!);
        v.memory.writeU32(this.prdTable + i * ATA_DMA_ENTRY_SIZE + 4, ((length & 0xffff) | (i === pages - 1 ? ATA_DMA_EOT : 0)) >>> 0);
      }
      const ext = lba + count > LBA28_LIMIT || count > 256;
      yield* this.taskfile(v, unit, lba, count, ext);
      const cmd = write ? (ext ? ATA_WRITE_DMA48 : ATA_WRITE_DMA) : ext ? ATA_READ_DMA48 : ATA_READ_DMA;
      const what = `${write ? 'WRITE' : 'READ'} DMA${ext ? '48' : ''} of ${count} sectors at ${lba}`;
      const status = yield* this.command(cpu, cmd, what, bmBase + ATA_BMCMD_PORT, ATA_BMCMD_START_STOP | (write ? 0 : ATA_BMCMD_WRITE_READ));
      const bmStatus = this.lastBmStatus;
      if (status & ATA_S_ERROR) throw new AtaCommandError(`${what}: ATA error ${hex(yield* this.in(v, this.res.base + ATA_ERROR))} (status ${hex(status)})`);
      if (bmStatus & ATA_BMSTAT_ERROR) throw new AtaCommandError(`${what}: bus-master DMA error (bus-master status ${hex(bmStatus)})`);
      if (write) return new Uint8Array(0);
      const out = new Uint8Array(bytes);
      for (let i = 0; i < pages; i++) out.set(v.memory.read(this.bounce[i]!, Math.min(PAGE_SIZE, bytes - i * PAGE_SIZE)), i * PAGE_SIZE);
      return out;
    } finally {
      this.busy = false;
    }
  }

  /** FLUSH CACHE (EXT for LBA48 drives) on drive `unit`. */
  *flush(cpu: Pcpu, unit: number, lba48: boolean): Gen {
    yield* this.lock(cpu);
    try {
      const v = cpu.v;
      yield* this.out(v, this.res.base + ATA_DRIVE, ATA_D_IBM | ATA_D_LBA | (unit ? ATA_DEV_SLAVE : 0));
      const status = yield* this.command(cpu, lba48 ? ATA_FLUSHCACHE48 : ATA_FLUSHCACHE, 'FLUSH CACHE');
      if (status & ATA_S_ERROR) throw new AtaCommandError(`FLUSH CACHE: ATA error ${hex(yield* this.in(v, this.res.base + ATA_ERROR))} (status ${hex(status)})`);
    } finally {
      this.busy = false;
    }
  }

  /**
   * Issues `cmd`, starts the bus master when `bmCommand` is given, sleeps until the channel's interrupt,
   * then (for DMA) reads, clears and stops the bus master, and reads the status register — which
   * acknowledges the interrupt. Returns that status.
   */
  private *command(cpu: Pcpu, cmd: number, what: string, bmPort?: number, bmCommand?: number): Gen<number> {
    const v = cpu.v;
    const seen = this.irqs;
    this.commands++;
    yield* this.out(v, this.res.base + ATA_COMMAND, cmd);
    if (bmPort !== undefined) yield* this.out(v, bmPort, bmCommand!);
    const done = yield* tsleep(cpu, () => this.irqs > seen, v.now + ATA_TIMEOUT_NS);
    if (bmPort !== undefined) {
      this.lastBmStatus = yield* this.in(v, bmPort - ATA_BMCMD_PORT + ATA_BMSTAT_PORT);
      yield* this.out(v, bmPort - ATA_BMCMD_PORT + ATA_BMSTAT_PORT, ATA_BMSTAT_INTERRUPT | ATA_BMSTAT_ERROR);
      yield* this.out(v, bmPort, 0);
    }
    const status = yield* this.in(v, this.res.base + ATA_STATUS);
    if (!done) throw new AtaCommandError(`${what}: timeout after ${ATA_TIMEOUT_NS / 1e9} s (status ${hex(status)})`);
    return status;
  }

  /** The task file of a DMA command: 48-bit with the high bytes first, or 28-bit with LBA 27:24 in the drive register. */
  private *taskfile(v: VcpuApi, unit: number, lba: number, count: number, ext: boolean): Gen {
    const base = this.res.base;
    const drive = ATA_D_LBA | (unit ? ATA_DEV_SLAVE : 0);
    if (ext) {
      yield* this.out(v, base + ATA_COUNT, (count >> 8) & 0xff);
      yield* this.out(v, base + ATA_SECTOR, Math.floor(lba / 2 ** 24) & 0xff);
      yield* this.out(v, base + ATA_CYL_LSB, Math.floor(lba / 2 ** 32) & 0xff);
      yield* this.out(v, base + ATA_CYL_MSB, Math.floor(lba / 2 ** 40) & 0xff);
    }
    yield* this.out(v, base + ATA_COUNT, count & 0xff);
    yield* this.out(v, base + ATA_SECTOR, lba & 0xff);
    yield* this.out(v, base + ATA_CYL_LSB, (lba >> 8) & 0xff);
    yield* this.out(v, base + ATA_CYL_MSB, (lba >> 16) & 0xff);
    yield* this.out(v, base + ATA_DRIVE, ATA_D_IBM | drive | (ext ? 0 : (lba >> 24) & 0xf));
  }

  /** One command at a time per channel: a second thread sleeps until the first is done. */
  private *lock(cpu: Pcpu): Gen {
    while (this.busy) yield* tsleep(cpu, () => !this.busy);
    this.busy = true;
  }
}
