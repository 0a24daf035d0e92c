/** console_io (hypercall 18) and the hypervisor console ring it writes to (xen/drivers/char/console.c). */
import type { HypercallArgs, HypercallContext } from '../api/hypercall.js';
import type { HypervisorConsole } from '../api/platform.js';
import { GuestError } from '../api/errors.js';
import { CONSOLEIO } from '../public/platform.js';

/** Xen's default console ring (`conring`) size: 16 KiB. */
export const DEFAULT_CONSOLE_RING_BYTES = 16 * 1024;
/** Xen's per-domain partial-line buffer (`DOMAIN_PBUF_SIZE`): a guest line is cut after 199 characters. */
export const DOMAIN_PBUF_SIZE = 200;
/** Xen's serial input ring (`SERIAL_RX_SIZE`): characters typed beyond it are dropped. */
export const SERIAL_RX_SIZE = 128;
/** Guest bytes copied per step (Xen's `kbuf[128]` holds 127 plus a NUL). */
const WRITE_CHUNK = 127;
const INT_MAX = 0x7fff_ffff;

function isPrintable(c: number): boolean {
  return (c >= 0x20 && c <= 0x7e) || c === 0x09;
}

/** The console ring with per-domain line assembly. */
export class HypervisorConsoleImpl implements HypervisorConsole {
  private ring: string[] = [];
  private ringBytes = 0;
  private readonly partial = new Map<number, string>();
  private readonly rx: number[] = [];

  constructor(readonly capacity = DEFAULT_CONSOLE_RING_BYTES) {}

  lines(): string[] {
    return [...this.ring];
  }

  text(): string {
    return this.ring.map((l) => `${l}\n`).join('');
  }

  clear(): void {
    this.ring = [];
    this.ringBytes = 0;
  }

  printk(text: string): void {
    for (const line of text.split('\n')) this.push(`(XEN) ${line}`);
  }

  input(text: string): void {
    for (let i = 0; i < text.length && this.rx.length < SERIAL_RX_SIZE; i++) this.rx.push(text.charCodeAt(i) & 0xff);
  }

  /** Characters queued for CONSOLEIO_read. */
  get pendingInput(): number {
    return this.rx.length;
  }

  /** The first `count` queued input characters, left queued. */
  peekInput(count: number): Uint8Array {
    return Uint8Array.from(this.rx.slice(0, count));
  }

  /** Drops the first `count` queued input characters (once they reached the guest). */
  consumeInput(count: number): void {
    this.rx.splice(0, count);
  }

  /**
   * Output from `domid`. Dom0 (the hardware domain) is written as it is, unprefixed; other domains'
   * output loses everything but printable ASCII and tabs, and each line gets `(d<domid>) `.
   */
  write(domid: number, bytes: Uint8Array): void {
    const guest = domid !== 0;
    const limit = guest ? DOMAIN_PBUF_SIZE - 1 : this.capacity;
    let line = this.partial.get(domid) ?? '';
    for (const c of bytes) {
      if (c === 0x0a) {
        this.emit(domid, line);
        line = '';
        continue;
      }
      if (guest && !isPrintable(c)) continue;
      if (line.length >= limit) {
        this.emit(domid, line);
        line = '';
      }
      line += String.fromCharCode(c);
    }
    if (line === '') this.partial.delete(domid);
    else this.partial.set(domid, line);
  }

  /** Drops a destroyed domain's unfinished line. */
  forget(domid: number): void {
    this.partial.delete(domid);
  }

  private emit(domid: number, line: string): void {
    this.push(domid === 0 ? line : `(d${domid}) ${line}`);
  }

  private push(line: string): void {
    const text = line.length >= this.capacity ? line.slice(line.length - this.capacity + 1) : line;
    this.ring.push(text);
    this.ringBytes += text.length + 1;
    while (this.ringBytes > this.capacity) this.ringBytes -= this.ring.shift()!.length + 1;
  }
}

/**
 * `do_console_io(cmd, count, buffer)`. As a Xen debug build (CONFIG_VERBOSE_DEBUG) any domain may
 * write; everything else needs privilege (XSM_PRIV), checked before the command is decoded.
 * CONSOLEIO_read returns serial input, as Xen does (the output ring is read with sysctl readconsole).
 */
export function makeConsoleIo(console: HypervisorConsoleImpl): (ctx: HypercallContext, args: HypercallArgs) => number {
  return (ctx, args) => {
    const cmd = args[0] ?? 0;
    const count = (args[1] ?? 0) >>> 0;
    const buffer = args[2] ?? 0;
    if (cmd !== CONSOLEIO.write && !ctx.privileged) throw new GuestError('EPERM', `console_io: command ${cmd} needs privilege`, { domid: ctx.domid });
    switch (cmd) {
      case CONSOLEIO.write:
        for (let done = 0; done < count; ) {
          const n = Math.min(WRITE_CHUNK, count - done);
          console.write(ctx.domid, ctx.guest.read(buffer + done, n));
          done += n;
        }
        return 0;
      case CONSOLEIO.read: {
        if (count > INT_MAX) throw new GuestError('E2BIG', `console_io read: count ${count} exceeds INT_MAX`, { domid: ctx.domid });
        const n = Math.min(count, console.pendingInput);
        if (n === 0) return 0;
        ctx.guest.write(buffer, console.peekInput(n));
        console.consumeInput(n);
        return n;
      }
      default:
        throw new GuestError('ENOSYS', `console_io: unknown command ${cmd}`, { domid: ctx.domid });
    }
  };
}
