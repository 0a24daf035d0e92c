/**
 * What xenconsoled offers other Dom0 services and the host: each domain's console output, a way to type
 * into it, and where its console socket is. The `xenconsoled` plugin provides it.
 */
import type { SerialLine } from './hvm.js';
import { token } from './tokens.js';

/** A domain's emulated serial port joined to its console: the device model writes and reads it; `close()` detaches it (idempotent). */
export type SerialConsole = SerialLine & { close(): void };

export interface Consoles {
  /** Domains whose console xenconsoled has attached, sorted. */
  attached(): number[];
  /** The console socket of `domid` (`<run dir>/console/<domid>.sock`), or undefined when not attached. */
  socketPath(domid: number): string | undefined;
  /** Everything the domain wrote to its console so far (the per-domain log, bounded to its last 1 MiB). */
  log(domid: number): string;
  /** Calls `fn` with each chunk of output the domain writes, as xenconsoled reads it from the ring. */
  onOutput(domid: number, fn: (text: string) => void): () => void;
  /** Queues input for the domain (as if typed on its console); bytes beyond the ring's room wait. */
  input(domid: number, text: string): void;
  /**
   * Joins an HVM guest's emulated serial port (COM1, `serial = "pty"`) to its console, as QEMU's pty
   * chardev is: it gets its own log and socket, and — xl's default console for HVM — it wins over the PV
   * console ring: `socketPath`, `log`, `onOutput` and `input` then serve the serial line. `EEXIST` when
   * the domain has a serial console already.
   */
  attachSerial(domid: number): SerialConsole;
}
export const Consoles = token<Consoles>('Consoles');
