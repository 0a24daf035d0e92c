/** Moving sectors between a drive's image and guest memory, charged to Dom0 as the device model's work. */
import type { DeviceModelContext } from '../../../core/api/index.js';
import type { PrdPiece } from './bmdma.js';
import { SECTOR } from './ata.js';
import { IMAGE_REQUEST_CYCLES } from './costs.js';
import type { IdeDrive } from './drive.js';

type Charger = Pick<DeviceModelContext, 'compute' | 'charge'>;

/** Reads `length` bytes at byte `offset` of the disk: one image request. Throws AtaError. */
export function imageRead(ctx: Charger, drive: IdeDrive, offset: number, length: number): Uint8Array {
  ctx.compute(IMAGE_REQUEST_CYCLES);
  ctx.charge('copyPerByte', length);
  return drive.read(offset, length);
}

/** Writes whole sectors at `lba`: one image request. Throws AtaError. */
export function imageWrite(ctx: Charger, drive: IdeDrive, lba: number, data: Uint8Array): void {
  ctx.compute(IMAGE_REQUEST_CYCLES);
  ctx.charge('copyPerByte', data.length);
  drive.write(lba * SECTOR, data);
}

/** READ DMA: the sectors from `lba` scattered over `pieces` of guest memory. Throws AtaError, or the memory's error. */
export function scatter(ctx: Charger & Pick<DeviceModelContext, 'memory'>, drive: IdeDrive, lba: number, pieces: readonly PrdPiece[]): void {
  let offset = lba * SECTOR;
  for (const piece of pieces) {
    ctx.memory.write(piece.addr, imageRead(ctx, drive, offset, piece.length));
    offset += piece.length;
  }
}

/**
 * WRITE DMA: `count` sectors gathered from `pieces` and written at `lba`. Gathered first, so a piece
 * outside guest memory fails the command before the disk is touched.
 */
export function gather(ctx: Charger & Pick<DeviceModelContext, 'memory'>, drive: IdeDrive, lba: number, count: number, pieces: readonly PrdPiece[]): void {
  const data = new Uint8Array(count * SECTOR);
  let at = 0;
  for (const piece of pieces) {
    data.set(ctx.memory.read(piece.addr, piece.length), at);
    at += piece.length;
  }
  imageWrite(ctx, drive, lba, data);
}
