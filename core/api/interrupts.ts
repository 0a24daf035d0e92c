/** Interrupt contracts: the line and the MSI sender a device model raises interrupts with. */
import type { Gsi } from '../public/types.js';

/**
 * One interrupt input of the emulated platform (an IO-APIC pin reached through its GSI). Lines created
 * for the same GSI are wired-OR: the pin is asserted while any of them is. States are logical
 * (asserted or not); the pin's programmed polarity does not invert them.
 */
export interface InterruptLine {
  /** The GSI this line drives. */
  readonly gsi: Gsi;
  /** True between `assert()` and `deassert()`. */
  readonly asserted: boolean;
  /** Raises the line. For a level-triggered pin the interrupt repeats after each EOI until `deassert()`. */
  assert(): void;
  /** Lowers the line. */
  deassert(): void;
  /** Raises and lowers the line at once: one edge (an ISA-style interrupt). */
  pulse(): void;
}

/**
 * An MSI/MSI-X message as the device writes it: `address` is the 32-bit message address
 * (0xFEExxxxx on x86), `data` the 32-bit message data.
 */
export interface MsiMessage {
  readonly address: number;
  readonly data: number;
}

/** Sends MSIs for one device. `send` throws a `HardwareError` for an address outside the interrupt window. */
export interface MsiSender {
  send(message: MsiMessage): void;
}
