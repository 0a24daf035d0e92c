/** ada(4): an ATA disk on an ATA channel, offered to the kernel as a {@link DiskDev} (FreeBSD's ata_da.c under CAM). */
import type { VcpuRequest } from '../../../../../core/api/index.js';
import { DiskIoError, type DiskDev } from '../../kern/disk.js';
import type { Pcpu } from '../../kern/pcpu.js';
import { ATA_MAX_DMA_SECTORS, type AtaChannel } from './ata_channel.js';
import type { AtaParams } from './ata_params.js';
import { DEV_BSIZE } from './ata_reg.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** An ATA disk: I/O through its channel's bus-master DMA, split into commands of at most 128 KiB. */
export class AdaDisk implements DiskDev {
  readonly sectorSize = DEV_BSIZE;
  /** ATA has no write-protect bit: a read-only image answers writes with an error. */
  readonly readOnly = false;
  /** Requests served and sectors moved. */
  readonly stats = { reads: 0, writes: 0, flushes: 0, sectorsRead: 0, sectorsWritten: 0 };

  constructor(
    /** `ada0`. */
    readonly name: string,
    readonly params: AtaParams,
    private readonly channel: AtaChannel,
    /** 0 master, 1 slave. */
    readonly unit: number,
  ) {}

  get sectors(): number {
    return this.params.sectors;
  }

  get description(): string {
    return this.params.model;
  }

  /** The lines FreeBSD prints when CAM attaches the disk. */
  attachLines(bus: number): string[] {
    const p = this.params;
    return [
      `${this.name} at ${this.channel.name} bus 0 scbus${bus} target ${this.unit} lun 0`,
      `${this.name}: <${p.model} ${p.revision}> ATA-${p.version} device`,
      `${this.name}: Serial Number ${p.serial}`,
      `${this.name}: 16.700MB/s transfers (WDMA2, PIO 8192bytes)`,
      `${this.name}: ${Math.floor((p.sectors * DEV_BSIZE) / 2 ** 20)}MB (${p.sectors} ${DEV_BSIZE} byte sectors)`,
    ];
  }

  private check(op: 'read' | 'write', lba: number, count: number): void {
    if (!Number.isInteger(lba) || !Number.isInteger(count) || lba < 0 || count <= 0 || lba + count > this.sectors) {
      throw new DiskIoError(this.name, op, lba, `${count} sectors at ${lba} are not within the disk (${this.sectors} sectors)`);
    }
  }

  *read(cpu: Pcpu, lba: number, count: number): Gen<Uint8Array> {
    this.check('read', lba, count);
    const out = new Uint8Array(count * DEV_BSIZE);
    for (let done = 0; done < count; ) {
      const n = Math.min(ATA_MAX_DMA_SECTORS, count - done);
      try {
        out.set(yield* this.channel.dma(cpu, this.unit, false, lba + done, n), done * DEV_BSIZE);
      } catch (error) {
        throw new DiskIoError(this.name, 'read', lba + done, message(error));
      }
      done += n;
    }
    this.stats.reads++;
    this.stats.sectorsRead += count;
    return out;
  }

  *write(cpu: Pcpu, lba: number, data: Uint8Array): Gen {
    if (data.length === 0 || data.length % DEV_BSIZE !== 0) throw new DiskIoError(this.name, 'write', lba, `${data.length} bytes is not a whole number of ${DEV_BSIZE}-byte sectors`);
    const count = data.length / DEV_BSIZE;
    this.check('write', lba, count);
    for (let done = 0; done < count; ) {
      const n = Math.min(ATA_MAX_DMA_SECTORS, count - done);
      try {
        yield* this.channel.dma(cpu, this.unit, true, lba + done, n, data.subarray(done * DEV_BSIZE, (done + n) * DEV_BSIZE));
      } catch (error) {
        throw new DiskIoError(this.name, 'write', lba + done, message(error));
      }
      done += n;
    }
    this.stats.writes++;
    this.stats.sectorsWritten += count;
  }

  *flush(cpu: Pcpu): Gen {
    try {
      yield* this.channel.flush(cpu, this.unit, this.params.lba48);
    } catch (error) {
      throw new DiskIoError(this.name, 'flush', 0, message(error));
    }
    this.stats.flushes++;
  }
}
