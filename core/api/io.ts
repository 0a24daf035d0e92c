/** I/O contracts: the handler a device model implements and the registrar it claims port and MMIO ranges with. */
import type { GuestPhysAddr, IoPort } from '../public/types.js';

/** Width in bytes of a port-I/O access (`in`/`out` with b/w/l). */
export type PortAccessSize = 1 | 2 | 4;
/** Width in bytes of an MMIO access. 8-byte accesses reach a handler through {@link MmioHandler.read64}, or as two 4-byte halves. */
export type MmioAccessSize = 1 | 2 | 4 | 8;

/**
 * A device's side of a claimed range. `offset` is relative to the range's start; `size` is 1, 2 or 4
 * and the access never leaves the range. `read` returns an unsigned value of `size` bytes (higher bits
 * are discarded by the bus); `write` receives one.
 */
export interface IoHandler {
  read(offset: number, size: PortAccessSize): number;
  write(offset: number, size: PortAccessSize, value: number): void;
}

/**
 * An MMIO handler. Without `read64`/`write64`, an 8-byte access is split into two 4-byte accesses,
 * low half first, as a 32-bit bus would issue them.
 */
export interface MmioHandler extends IoHandler {
  read64?(offset: number): bigint;
  write64?(offset: number, value: bigint): void;
}

/** A claimed range. `dispose()` releases it (idempotent); the range may then be claimed again. */
export interface IoRegistration {
  /** First byte (port or address) of the range. */
  readonly start: number;
  /** Number of ports or bytes. */
  readonly length: number;
  /** Who claimed it (a device model's name), as overlap errors show it. */
  readonly owner: string;
  /** False once disposed. */
  readonly active: boolean;
  dispose(): void;
}

/**
 * What a device model gets to claim I/O space with: its own domain's port and MMIO buses, and nothing
 * else. Both methods throw a `HardwareError` naming both owners when the range overlaps a claimed one.
 */
export interface IoRegistrar {
  /** Claims ports `base .. base+count-1` (within 0..0xFFFF). */
  registerPorts(base: IoPort, count: number, handler: IoHandler): IoRegistration;
  /** Claims guest-physical bytes `base .. base+length-1`. */
  registerMmio(base: GuestPhysAddr, length: number, handler: MmioHandler): IoRegistration;
}
