/**
 * HVM guests' emulated serial ports joined to their consoles (QEMU's `-serial pty`): each has its own
 * log and socket (`<domid>-serial.sock`), output from the UART as it transmits, input typed on the
 * socket handed to the UART's receiver.
 */
import { join } from 'node:path';
import { GuestError, type Engine, type Logger, type SerialConsole } from '../../../core/api/index.js';
import { OutputLog, streamDecoder } from './output-log.js';
import { ConsoleSocket } from './socket.js';
import { errorMessage, fanOut } from './util.js';

/** What {@link SerialConsoles} is made from. */
export interface SerialConsolesDeps {
  readonly socketDir: string;
  readonly engine: Pick<Engine, 'external'>;
  readonly log: Logger;
  readonly logLimit: number;
  readonly clientBufferLimit: number;
  /** Output listeners of the domain (the daemon's `onOutput` set). */
  readonly listeners: (domid: number) => Iterable<(text: string) => void>;
  /** Where output also goes as it is written (the guest log file), if anywhere. */
  readonly tee?: (domid: number, bytes: Uint8Array) => void;
}

interface SerialEntry {
  readonly line: SerialConsole;
  readonly log: OutputLog;
  readonly socket: ConsoleSocket;
  readonly listening: Promise<void>;
  readonly inputs: Set<(text: string) => void>;
}

const encoder = new TextEncoder();

/** The serial consoles of every domain that has one. */
export class SerialConsoles {
  private readonly entries = new Map<number, SerialEntry>();
  private readonly closing = new Set<Promise<void>>();

  constructor(private readonly deps: SerialConsolesDeps) {}

  has(domid: number): boolean {
    return this.entries.has(domid);
  }

  domains(): number[] {
    return [...this.entries.keys()];
  }

  attach(domid: number): SerialConsole {
    if (this.entries.has(domid)) throw new GuestError('EEXIST', `xenconsoled: dom${domid} has a serial console already`, { domid });
    const decode = streamDecoder();
    const log = new OutputLog(this.deps.logLimit);
    const inputs = new Set<(text: string) => void>();
    const socket = new ConsoleSocket({
      path: join(this.deps.socketDir, `${domid}-serial.sock`),
      clientBufferLimit: this.deps.clientBufferLimit,
      log: this.deps.log,
      onInput: (bytes) => this.deps.engine.external(() => this.entries.get(domid)?.line === line && this.type(domid, new TextDecoder().decode(bytes))),
    });
    const listening = socket.listen().catch((error: unknown) => this.deps.log.error(`dom${domid}: serial socket ${socket.path}: ${errorMessage(error)}`));
    const line: SerialConsole = {
      write: (text) => {
        if (this.entries.get(domid)?.line !== line || text.length === 0) return;
        const bytes = encoder.encode(text);
        log.append(bytes);
        this.deps.tee?.(domid, bytes);
        socket.send(bytes);
        fanOut(this.deps.listeners(domid), decode(bytes), this.deps.log, `dom${domid}: serial output listener`);
      },
      onInput: (fn) => {
        const entry = (text: string): void => fn(text);
        inputs.add(entry);
        return () => void inputs.delete(entry);
      },
      close: () => this.detach(domid, line),
    };
    this.entries.set(domid, { line, log, socket, listening, inputs });
    this.deps.log.info(`dom${domid}: serial console attached (${socket.path})`);
    return line;
  }

  socketPath(domid: number): string | undefined {
    return this.entries.get(domid)?.socket.path;
  }

  log(domid: number): string | undefined {
    return this.entries.get(domid)?.log.text();
  }

  /** Input for the domain's UART (as if typed on its serial console). */
  type(domid: number, text: string): void {
    const e = this.entries.get(domid);
    if (e === undefined) return;
    fanOut(e.inputs, text, this.deps.log, `dom${domid}: serial input listener`);
  }

  async whenListening(domid: number): Promise<void> {
    await this.entries.get(domid)?.listening;
  }

  /** The domain went: its serial console goes with it. */
  forget(domid: number): void {
    const e = this.entries.get(domid);
    if (e !== undefined) this.detach(domid, e.line);
  }

  async dispose(): Promise<void> {
    for (const domid of [...this.entries.keys()]) this.forget(domid);
    while (this.closing.size > 0) await Promise.all([...this.closing]);
  }

  private detach(domid: number, line: SerialConsole): void {
    const e = this.entries.get(domid);
    if (e?.line !== line) return;
    this.entries.delete(domid);
    e.inputs.clear();
    const done = e.listening
      .then(() => e.socket.close())
      .catch((error: unknown) => this.deps.log.warn(`dom${domid}: closing ${e.socket.path}: ${errorMessage(error)}`))
      .finally(() => this.closing.delete(done));
    this.closing.add(done);
    this.deps.log.info(`dom${domid}: serial console detached`);
  }
}
