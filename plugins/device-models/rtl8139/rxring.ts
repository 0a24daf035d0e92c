/** The RTL8139's receive ring in guest memory: free space by CAPR and CBR, and packets written with or without WRAP. */
import type { GuestAccess } from '../../../core/api/index.js';
import { etherCrc32 } from './crc.js';
import { ETHER_MIN, FCS, RX_HEADER } from './regs.js';

/** Bytes a packet of `frameLength` takes in the ring: header, frame padded to 60, FCS, rounded up to a dword. */
export function ringBytes(frameLength: number): number {
  return (RX_HEADER + Math.max(frameLength, ETHER_MIN) + FCS + 3) & ~3;
}

/**
 * Bytes the device may still write without reaching the driver's read position (`ptr`, CAPR + 16) from
 * its write position (`addr`, CBR). Equal positions mean an empty ring; the device never fills it
 * completely, so that stays unambiguous.
 */
export function ringFree(ptr: number, addr: number, size: number): number {
  return ptr === addr ? size : (ptr - addr + size) % size;
}

/** The packet as it lands in the ring: status and length (FCS included), the frame padded to 60 bytes, its FCS. */
export function rxPacket(frame: Uint8Array, status: number): Uint8Array {
  const body = Math.max(frame.length, ETHER_MIN);
  const packet = new Uint8Array(RX_HEADER + body + FCS);
  const view = new DataView(packet.buffer);
  view.setUint16(0, status, true);
  view.setUint16(2, body + FCS, true);
  packet.set(frame, RX_HEADER);
  view.setUint32(RX_HEADER + body, etherCrc32(packet.subarray(RX_HEADER, RX_HEADER + body)), true);
  return packet;
}

/**
 * Writes `packet` at ring offset `at` of the ring at guest address `base` (`size` bytes). With `wrap`
 * (RCR.WRAP, rings under 64 KiB) it runs on past the ring's end into the driver's spare bytes; without,
 * it continues at the ring's start. Throws when guest memory cannot be written.
 */
export function writeRing(memory: GuestAccess, base: number, size: number, at: number, packet: Uint8Array, wrap: boolean): void {
  const first = wrap && size < 0x1_0000 ? packet.length : Math.min(packet.length, size - at);
  memory.write(base + at, packet.subarray(0, first));
  if (first < packet.length) memory.write(base, packet.subarray(first));
}
