/** The IOMMU: per-device DMA contexts that translate device addresses through the owner's P2M and log faults. */
import { HardwareError } from '../api/errors.js';
import type { MachineMemory, P2m } from '../api/memory.js';
import type { Engine } from '../engine/engine.js';
import { TraceKind } from '../engine/trace.js';
import { DOMID_INVALID } from '../public/xen.js';
import { type DomId, type PciBdf, formatBdf } from '../public/types.js';
import { copyFromFrames, copyToFrames, resolveGuestRange } from '../memory/guest-memory.js';

/** Why a DMA was refused. Numbered for the trace record (`c` field): never renumber. */
export const IommuFaultReason = {
  'not-attached': 1,
  unmapped: 2,
  'read-only': 3,
  'no-access': 4,
  'bad-range': 5,
} as const;
export type IommuFaultReason = keyof typeof IommuFaultReason;

/** One refused DMA, as the fault log keeps it (VT-d's fault recording registers, in spirit). */
export interface IommuFault {
  /** Virtual time of the fault, when the IOMMU has an engine. */
  readonly time: number;
  readonly bdf: PciBdf;
  /** The device address (the owner's guest-physical address) of the first refused byte. */
  readonly addr: number;
  readonly write: boolean;
  readonly reason: IommuFaultReason;
  /** The device's owner, or undefined when it is not attached. */
  readonly domid: DomId | undefined;
}

/** A DMA's outcome: the fault is returned, never thrown, and nothing was written. */
export type DmaResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly fault: IommuFault };

/** A device's view of the IOMMU: its DMA reads and writes. */
export interface DmaPort {
  readonly bdf: PciBdf;
  read(addr: number, length: number): DmaResult<Uint8Array>;
  write(addr: number, data: Uint8Array): DmaResult<void>;
}

export interface IommuOptions {
  /** Where faults go on the trace and get their time. */
  engine?: Engine;
  /** Faults kept in the log (oldest dropped first); the count keeps running. Default 256. */
  faultLogSize?: number;
}

interface DeviceContext {
  readonly domid: DomId;
  readonly p2m: P2m;
}

const OK_VOID: DmaResult<void> = Object.freeze({ ok: true, value: undefined });

/** Renders a fault as a log line: `iommu: 00:03.0 (dom2) DMA write to 0x5000 refused: read-only`. */
export function formatIommuFault(fault: IommuFault): string {
  const owner = fault.domid === undefined ? 'unattached' : `dom${fault.domid}`;
  return `iommu: ${formatBdf(fault.bdf)} (${owner}) DMA ${fault.write ? 'write to' : 'read of'} 0x${fault.addr.toString(16)} refused: ${fault.reason}`;
}

/**
 * DMA remapping for the host's PCI devices. A device attached to a domain reaches exactly what the
 * domain's P2M maps, with its read/write rights; anything else is a fault that is logged, traced and
 * returned — and no byte is written.
 */
export class Iommu {
  private readonly contexts = new Map<number, DeviceContext>();
  private readonly log: IommuFault[] = [];
  private readonly logSize: number;
  private readonly engine: Engine | undefined;
  private readonly frames: number[] = [];
  private faultTotal = 0;

  constructor(
    private readonly memory: MachineMemory,
    options: IommuOptions = {},
  ) {
    this.engine = options.engine;
    this.logSize = options.faultLogSize ?? 256;
  }

  // --- contexts ----------------------------------------------------------------------------------

  /** Gives `bdf`'s DMA to `domid`, translated by `p2m`. The device must not be attached elsewhere. */
  attach(bdf: PciBdf, domid: DomId, p2m: P2m): void {
    const held = this.contexts.get(bdf);
    if (held !== undefined) {
      throw new HardwareError('iommu-busy', `iommu: ${formatBdf(bdf)} is already attached to dom${held.domid}`, { domid });
    }
    if (p2m.domid !== domid) throw new HardwareError('iommu-p2m', `iommu: ${formatBdf(bdf)}: the p2m given is dom${p2m.domid}'s, not dom${domid}'s`, { domid });
    this.contexts.set(bdf, { domid, p2m });
  }

  /** Removes `bdf`'s context; its DMA faults from now on. Throws if it was not attached. */
  detach(bdf: PciBdf): void {
    if (!this.contexts.delete(bdf)) throw new HardwareError('iommu-detach', `iommu: ${formatBdf(bdf)} is not attached`);
  }

  /** Detaches every device of `domid` (domain destruction); returns how many. */
  detachDomain(domid: DomId): number {
    let n = 0;
    for (const [bdf, ctx] of this.contexts) {
      if (ctx.domid === domid) {
        this.contexts.delete(bdf);
        n++;
      }
    }
    return n;
  }

  /** The owner of `bdf`'s DMA, if attached. */
  ownerOf(bdf: PciBdf): DomId | undefined {
    return this.contexts.get(bdf)?.domid;
  }

  /** The DMA port of one device. */
  device(bdf: PciBdf): DmaPort {
    return {
      bdf,
      read: (addr, length) => this.dmaRead(bdf, addr, length),
      write: (addr, data) => this.dmaWrite(bdf, addr, data),
    };
  }

  // --- DMA ---------------------------------------------------------------------------------------

  /** A device reads `length` bytes at device address `addr`. */
  dmaRead(bdf: PciBdf, addr: number, length: number): DmaResult<Uint8Array> {
    const fault = this.resolve(bdf, addr, length, false);
    if (fault !== null) return { ok: false, fault };
    const out = new Uint8Array(length);
    copyFromFrames(this.memory, this.frames, addr, out);
    return { ok: true, value: out };
  }

  /** A device writes `data` at device address `addr`: all of it, or (on a fault) none of it. */
  dmaWrite(bdf: PciBdf, addr: number, data: Uint8Array): DmaResult<void> {
    const fault = this.resolve(bdf, addr, data.length, true);
    if (fault !== null) return { ok: false, fault };
    copyToFrames(this.memory, this.frames, addr, data);
    return OK_VOID;
  }

  // --- fault log ---------------------------------------------------------------------------------

  /** The kept faults, oldest first. */
  get faults(): readonly IommuFault[] {
    return this.log;
  }

  /** Faults since the IOMMU was made, including those dropped from the log. */
  get faultCount(): number {
    return this.faultTotal;
  }

  /** A debug dump: contexts and recent faults. */
  dump(): string {
    const lines = [`iommu: ${this.contexts.size} device contexts, ${this.faultTotal} faults`];
    for (const [bdf, ctx] of [...this.contexts].sort((a, b) => a[0] - b[0])) lines.push(`  ${formatBdf(bdf as PciBdf)} → dom${ctx.domid}`);
    for (const fault of this.log) lines.push(`  ${formatIommuFault(fault)}`);
    return lines.join('\n');
  }

  // --- helpers -----------------------------------------------------------------------------------

  private resolve(bdf: PciBdf, addr: number, length: number, write: boolean): IommuFault | null {
    const ctx = this.contexts.get(bdf);
    if (ctx === undefined) return this.fault(bdf, addr, write, 'not-attached', undefined);
    if (!(Number.isInteger(addr) && addr >= 0 && Number.isInteger(length) && length >= 0 && addr + length <= 2 ** 48)) {
      return this.fault(bdf, addr, write, 'bad-range', ctx.domid);
    }
    const refused = resolveGuestRange(ctx.p2m, addr, length, write, this.frames);
    return refused === null ? null : this.fault(bdf, refused.addr, write, refused.reason, ctx.domid);
  }

  private fault(bdf: PciBdf, addr: number, write: boolean, reason: IommuFaultReason, domid: DomId | undefined): IommuFault {
    const time = this.engine?.now ?? 0;
    const fault: IommuFault = { time, bdf, addr, write, reason, domid };
    this.faultTotal++;
    this.log.push(fault);
    if (this.log.length > this.logSize) this.log.shift();
    this.engine?.trace.record(time, TraceKind.IommuFault, domid ?? DOMID_INVALID, 0, addr, bdf, (IommuFaultReason[reason] << 1) | (write ? 1 : 0));
    return fault;
  }
}
