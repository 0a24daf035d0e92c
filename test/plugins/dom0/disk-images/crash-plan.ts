/** The write stream of the crash test, shared by the child that writes it and the test that checks what survived. */
/** Bytes per write: not a divisor of 64 KiB, so some writes span two clusters. */
export const SLOT = 12 * 1024;
/** Slots on the disk (a power of two, so an odd stride visits each once). */
export const SLOTS = 2048;
export const DISK_SIZE = SLOT * SLOTS;
/** A flush, and a line on stdout, after every this many writes. */
export const FLUSH_EVERY = 32;

/** Write `i` of the stream: a distinct slot each time, scattered over the disk, with bytes no other write (or sector) has. */
export function plannedWrite(i: number): { offset: number; data: Uint8Array } {
  const words = new Uint32Array(SLOT / 4);
  for (let k = 0; k < words.length; k++) words[k] = ((i + 1) * 65536 + k) >>> 0;
  return { offset: ((i * 1447) % SLOTS) * SLOT, data: new Uint8Array(words.buffer) };
}
