/**
 * One IDE channel (QEMU's IDEBus): the command and control block registers shared by its two drives,
 * command execution with PIO data-in/data-out through the data port and DMA through the channel's bus
 * master, and INTRQ on the channel's ISA IRQ.
 */
import type { DeviceModelContext, InterruptLine } from '../../../core/api/index.js';
import { ATA_CMD, ATA_CTL, ATA_E, ATA_REG, ATA_S, SECTOR, SETFEATURES_ACCEPTED } from './ata.js';
import { BusMaster, type PrdPiece } from './bmdma.js';
import { IMAGE_REQUEST_CYCLES } from './costs.js';
import { gather, imageRead, imageWrite, scatter } from './transfer.js';
import { AtaError, type IdeDrive } from './drive.js';
import { TaskFile } from './taskfile.js';

/** A PIO transfer in progress: the DRQ block in `buffer`, and what happens when it is full or empty. */
interface Pio {
  readonly buffer: Uint8Array;
  pos: number;
  readonly done: () => void;
}

/** A DMA command waiting for (or running on) the bus master. */
interface Dma {
  readonly drive: IdeDrive;
  readonly lba: number;
  readonly count: number;
  /** READ DMA: the controller writes guest memory. */
  readonly toMemory: boolean;
  scheduled: boolean;
}

const READS_28 = new Set<number>([ATA_CMD.READ_SECTORS, ATA_CMD.READ_SECTORS_NR]);
const WRITES_28 = new Set<number>([ATA_CMD.WRITE_SECTORS, ATA_CMD.WRITE_SECTORS_NR]);
const DMA_READS = new Set<number>([ATA_CMD.READ_DMA, ATA_CMD.READ_DMA_NR, ATA_CMD.READ_DMA_EXT]);
const DMA_WRITES = new Set<number>([ATA_CMD.WRITE_DMA, ATA_CMD.WRITE_DMA_NR, ATA_CMD.WRITE_DMA_EXT]);
const EXT = new Set<number>([ATA_CMD.READ_SECTORS_EXT, ATA_CMD.WRITE_SECTORS_EXT, ATA_CMD.READ_DMA_EXT, ATA_CMD.WRITE_DMA_EXT]);
const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** A channel: its task file, its two drive positions, its bus master and its interrupt line. */
export class IdeChannel {
  readonly drives: (IdeDrive | undefined)[] = [undefined, undefined];
  readonly bm: BusMaster;
  private readonly tf = new TaskFile();
  private readonly status = [0, 0];
  private readonly error = [0, 0];
  private pio: Pio | undefined;
  private dma: Dma | undefined;
  /** Commands carried out, by drive unit (dumps, tests). */
  readonly commands = [0, 0];

  constructor(
    /** 0 primary, 1 secondary. */
    readonly index: number,
    private readonly ctx: DeviceModelContext,
    private readonly irq: InterruptLine,
  ) {
    this.bm = new BusMaster(() => this.startDma(), () => this.stopDma());
  }

  get name(): string {
    return `ide${this.index}`;
  }

  /** Puts `drive` on the bus as master (0) or slave (1), in its power-on state. */
  attach(unit: number, drive: IdeDrive): void {
    this.drives[unit] = drive;
    this.resetDrive(unit);
    this.bm.setDmaCapable(unit, true);
  }

  /** Takes the drive off the bus (the unplug): it answers nothing from now on. Returns it. */
  remove(unit: number): IdeDrive | undefined {
    const drive = this.drives[unit];
    if (drive === undefined) return undefined;
    if (this.dma?.drive === drive) this.dma = undefined;
    if (this.selected === unit) this.pio = undefined;
    this.drives[unit] = undefined;
    this.status[unit] = 0;
    this.bm.setDmaCapable(unit, false);
    return drive;
  }

  /** After an unplug: a channel left without drives drops its interrupt line. */
  quiesce(): void {
    if (this.noDrives) this.irq.deassert();
  }

  private get selected(): number {
    return this.tf.unit;
  }

  private get drive(): IdeDrive | undefined {
    return this.drives[this.selected];
  }

  private get noDrives(): boolean {
    return this.drives[0] === undefined && this.drives[1] === undefined;
  }

  // --- registers ----------------------------------------------------------------------------------

  /** The command block (8 ports at 0x1F0 / 0x170). */
  readCommandBlock(offset: number, size: number): number {
    if (offset === ATA_REG.data) return this.dataRead(size);
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = value * 256 + this.readRegister(offset + i);
    return value >>> 0;
  }

  writeCommandBlock(offset: number, size: number, value: number): void {
    if (offset === ATA_REG.data) return this.dataWrite(size, value);
    for (let i = 0; i < size; i++) this.writeRegister(offset + i, Math.floor(value / 2 ** (8 * i)) & 0xff);
  }

  /** The control block port (0x3F6 / 0x376): alternate status, device control. */
  readControl(): number {
    return this.drive === undefined ? 0 : this.status[this.selected]!;
  }

  writeControl(value: number): void {
    const was = this.tf.control;
    this.tf.control = value & (ATA_CTL.nIEN | ATA_CTL.SRST | ATA_CTL.HOB);
    if (value & ATA_CTL.SRST && !(was & ATA_CTL.SRST)) {
      for (const unit of [0, 1]) if (this.drives[unit]) this.status[unit] = ATA_S.BSY;
      this.pio = undefined;
      this.dma = undefined;
    } else if (!(value & ATA_CTL.SRST) && was & ATA_CTL.SRST) {
      for (const unit of [0, 1]) if (this.drives[unit]) this.resetDrive(unit);
    }
    if (value & ATA_CTL.nIEN) this.irq.deassert();
  }

  private readRegister(offset: number): number {
    if (offset === ATA_REG.error) return this.drive === undefined ? 0 : this.error[this.selected]!;
    if (offset !== ATA_REG.status) return this.noDrives ? 0 : this.tf.read(offset);
    // Status: reading it acknowledges the interrupt.
    this.irq.deassert();
    return this.drive === undefined ? 0 : this.status[this.selected]!;
  }

  private writeRegister(offset: number, value: number): void {
    if (offset === ATA_REG.status) this.command(value);
    else this.tf.write(offset, value);
  }

  private dataRead(size: number): number {
    const pio = this.pio;
    if (pio === undefined || this.drive === undefined) {
      this.ctx.warn(`${this.name}: ${size}-byte read of the data port with no data ready (DRQ clear)`);
      return 0;
    }
    let value = 0;
    for (let i = 0; i < size; i++) value += (pio.buffer[pio.pos + i] ?? 0) * 2 ** (8 * i);
    pio.pos += size;
    if (pio.pos >= pio.buffer.length) this.pioBlockDone(pio);
    return value;
  }

  private dataWrite(size: number, value: number): void {
    const pio = this.pio;
    if (pio === undefined || this.drive === undefined) {
      this.ctx.warn(`${this.name}: ${size}-byte write to the data port with no transfer under way (DRQ clear)`);
      return;
    }
    for (let i = 0; i < size && pio.pos + i < pio.buffer.length; i++) pio.buffer[pio.pos + i] = Math.floor(value / 2 ** (8 * i)) & 0xff;
    pio.pos += size;
    if (pio.pos >= pio.buffer.length) this.pioBlockDone(pio);
  }

  private pioBlockDone(pio: Pio): void {
    this.pio = undefined;
    pio.done();
  }

  // --- commands -----------------------------------------------------------------------------------

  private command(cmd: number): void {
    this.irq.deassert();
    const unit = this.selected;
    const drive = this.drives[unit];
    if (drive === undefined) return; // a command to an absent drive is ignored
    if (this.status[unit]! & ATA_S.BSY || this.dma !== undefined) {
      this.ctx.warn(`${this.name}: command 0x${cmd.toString(16)} to ${drive.vdev} while busy: ignored`);
      return;
    }
    this.commands[unit]!++;
    this.pio = undefined;
    this.error[unit] = 0;
    try {
      this.execute(cmd, unit, drive);
    } catch (error) {
      if (!(error instanceof AtaError)) throw error;
      this.abort(unit, error.bits, error.message);
    }
  }

  private execute(cmd: number, unit: number, drive: IdeDrive): void {
    if (cmd === ATA_CMD.IDENTIFY_DEVICE) return this.pioIn(unit, drive.identify());
    if (READS_28.has(cmd) || cmd === ATA_CMD.READ_SECTORS_EXT) {
      const { lba, count } = this.tf.address(EXT.has(cmd), drive.sectors);
      drive.checkRange(lba, count);
      return this.readSectors(unit, drive, lba, count);
    }
    if (WRITES_28.has(cmd) || cmd === ATA_CMD.WRITE_SECTORS_EXT) {
      const { lba, count } = this.tf.address(EXT.has(cmd), drive.sectors);
      drive.checkRange(lba, count);
      if (drive.readOnly) throw new AtaError(ATA_E.ABRT, `${drive.vdev} is read-only (access=ro): WRITE SECTORS at ${lba} refused`);
      return this.writeSectors(unit, drive, lba, count);
    }
    if (DMA_READS.has(cmd) || DMA_WRITES.has(cmd)) {
      const { lba, count } = this.tf.address(EXT.has(cmd), drive.sectors);
      drive.checkRange(lba, count);
      const toMemory = DMA_READS.has(cmd);
      if (!toMemory && drive.readOnly) throw new AtaError(ATA_E.ABRT, `${drive.vdev} is read-only (access=ro): WRITE DMA at ${lba} refused`);
      this.dma = { drive, lba, count, toMemory, scheduled: false };
      this.status[unit] = ATA_S.DRDY | ATA_S.DSC | ATA_S.DRQ;
      return this.startDma();
    }
    if (cmd === ATA_CMD.FLUSH_CACHE || cmd === ATA_CMD.FLUSH_CACHE_EXT) {
      this.ctx.compute(IMAGE_REQUEST_CYCLES);
      drive.flush();
      return this.complete(unit);
    }
    if (cmd === ATA_CMD.SET_FEATURES) return this.setFeatures(unit, drive);
    throw new AtaError(ATA_E.ABRT, `command 0x${cmd.toString(16)} is not supported by ${drive.vdev}`);
  }

  private setFeatures(unit: number, drive: IdeDrive): void {
    const sub = this.tf.feature.cur;
    if (!SETFEATURES_ACCEPTED.has(sub)) throw new AtaError(ATA_E.ABRT, `SET FEATURES 0x${sub.toString(16)} is not supported by ${drive.vdev}`);
    if (sub === 0x02) drive.writeCache = true;
    if (sub === 0x82) drive.writeCache = false;
    this.complete(unit);
  }

  /** PIO data-in of one block (IDENTIFY): offered with DRQ and an interrupt. */
  private pioIn(unit: number, block: Uint8Array): void {
    this.status[unit] = ATA_S.DRDY | ATA_S.DSC | ATA_S.DRQ;
    this.pio = {
      buffer: block,
      pos: 0,
      done: () => {
        this.status[unit] = ATA_S.DRDY | ATA_S.DSC;
      },
    };
    this.raise();
  }

  private readSectors(unit: number, drive: IdeDrive, lba: number, count: number): void {
    const next = (i: number): void => {
      let data: Uint8Array;
      try {
        data = imageRead(this.ctx, drive, (lba + i) * SECTOR, SECTOR);
      } catch (error) {
        if (!(error instanceof AtaError)) throw error;
        return this.abort(unit, error.bits, error.message);
      }
      this.status[unit] = ATA_S.DRDY | ATA_S.DSC | ATA_S.DRQ;
      this.pio = {
        buffer: data,
        pos: 0,
        done: () => {
          if (i + 1 < count) next(i + 1);
          else this.status[unit] = ATA_S.DRDY | ATA_S.DSC;
        },
      };
      this.raise();
    };
    next(0);
  }

  /** PIO data-out: the first block is asked for without an interrupt; each block written raises one. */
  private writeSectors(unit: number, drive: IdeDrive, lba: number, count: number): void {
    const want = (i: number): void => {
      const buffer = new Uint8Array(SECTOR);
      this.status[unit] = ATA_S.DRDY | ATA_S.DSC | ATA_S.DRQ;
      this.pio = {
        buffer,
        pos: 0,
        done: () => {
          try {
            imageWrite(this.ctx, drive, lba + i, buffer);
          } catch (error) {
            if (!(error instanceof AtaError)) throw error;
            return this.abort(unit, error.bits, error.message);
          }
          if (i + 1 < count) {
            want(i + 1);
            this.raise();
          } else this.complete(unit);
        },
      };
    };
    want(0);
  }

  // --- DMA ----------------------------------------------------------------------------------------

  /** Both sides are ready (a DMA command and the START bit): the transfer runs as Dom0 work. */
  private startDma(): void {
    const dma = this.dma;
    if (dma === undefined || dma.scheduled || !this.bm.active) return;
    dma.scheduled = true;
    this.ctx.timer(this.ctx.now(), () => this.runDma(dma));
  }

  /** The guest cleared START before the transfer finished: it is cancelled. */
  private stopDma(): void {
    const dma = this.dma;
    if (dma === undefined) return;
    this.dma = undefined;
    const unit = this.drives.indexOf(dma.drive);
    if (unit >= 0) {
      this.status[unit] = ATA_S.DRDY | ATA_S.ERR;
      this.error[unit] = ATA_E.ABRT;
    }
  }

  private runDma(dma: Dma): void {
    if (this.dma !== dma || !this.bm.active) return;
    this.dma = undefined;
    const unit = this.drives.indexOf(dma.drive);
    if (unit < 0) return;
    const what = `${dma.toMemory ? 'READ' : 'WRITE'} DMA of ${dma.count} sectors at ${dma.lba} on ${dma.drive.vdev}`;
    if (this.bm.writesMemory !== dma.toMemory) return this.dmaFailed(unit, `${what}: the bus master is programmed for the other direction`);
    let pieces: PrdPiece[];
    try {
      pieces = this.bm.walk(this.ctx.memory, dma.count * SECTOR);
    } catch (error) {
      return this.dmaFailed(unit, `${what}: ${message(error)}`);
    }
    try {
      if (dma.toMemory) scatter(this.ctx, dma.drive, dma.lba, pieces);
      else gather(this.ctx, dma.drive, dma.lba, dma.count, pieces);
    } catch (error) {
      if (error instanceof AtaError) {
        this.bm.finish(false);
        return this.abort(unit, error.bits, error.message);
      }
      return this.dmaFailed(unit, `${what}: ${message(error)}`);
    }
    this.bm.finish(false);
    this.complete(unit);
  }

  /** Guest memory could not be reached: bus-master ERROR, the command aborted, the interrupt raised. */
  private dmaFailed(unit: number, reason: string): void {
    this.bm.finish(true);
    this.abort(unit, ATA_E.ABRT, reason);
  }

  // --- helpers ------------------------------------------------------------------------------------

  private complete(unit: number): void {
    this.status[unit] = ATA_S.DRDY | ATA_S.DSC;
    this.raise();
  }

  private abort(unit: number, bits: number, reason: string): void {
    this.pio = undefined;
    this.error[unit] = bits;
    this.status[unit] = ATA_S.DRDY | ATA_S.ERR;
    this.ctx.warn(`${this.name}: ${reason} (error 0x${bits.toString(16)})`);
    this.raise();
  }

  private raise(): void {
    if (this.tf.control & ATA_CTL.nIEN) return;
    this.bm.interrupt();
    this.irq.assert();
  }

  /** Power-on / software reset: the ATA signature in the task file, ready, diagnostics passed. */
  private resetDrive(unit: number): void {
    this.status[unit] = ATA_S.DRDY | ATA_S.DSC;
    this.error[unit] = 0x01;
    this.tf.signature();
  }

  /** One line for `info block`-style dumps. */
  dump(): string {
    const drives = this.drives.map((d, unit) => (d === undefined ? `${unit}: none` : `${unit}: ${d.vdev} ${d.sectors} sectors${d.readOnly ? ' ro' : ''} status 0x${this.status[unit]!.toString(16)} ${this.commands[unit]} cmds`));
    return `${this.name} [${drives.join(', ')}] bm status 0x${this.bm.status.toString(16)} prd 0x${this.bm.prdAddress.toString(16)}`;
  }
}
