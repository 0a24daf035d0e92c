/** Test fixtures for the guest network stack: a virtual clock, a fake NIC driver, two stacks wired back to back. */
import { emptyIfnetStats, type IfnetDriver } from '../../../../../plugins/guest/generic/net/if.js';
import { NetStack } from '../../../../../plugins/guest/generic/net/stack.js';

/** A virtual clock the test moves by hand. */
export class Clock {
  t = 1_000_000_000;
  readonly now = (): number => this.t;
  advance(ns: number): void {
    this.t += ns;
  }
}

/** A driver whose transmit hands frames to `wire` (a copy, as a NIC's DMA would take) and records them. */
export class FakeDriver implements IfnetDriver {
  readonly stats = emptyIfnetStats();
  readonly sent: Uint8Array[] = [];
  up = true;
  /** When true, transmit refuses frames as a full ring does. */
  full = false;
  wire: ((frame: Uint8Array) => void) | undefined;

  constructor(
    readonly name: string,
    readonly mac: Uint8Array,
    readonly mtu = 1500,
    /** Frames kept in `sent` (the oldest go). */
    private readonly keep = 1000,
  ) {}

  transmit(frame: Uint8Array): boolean {
    if (this.full) {
      this.stats.oerrors++;
      return false;
    }
    this.stats.opackets++;
    this.stats.obytes += frame.length;
    const copy = frame.slice();
    if (this.sent.length >= this.keep) this.sent.shift();
    this.sent.push(copy);
    this.wire?.(copy);
    return true;
  }
}

export const MAC_A = Uint8Array.of(0x00, 0x16, 0x3e, 0x00, 0x00, 0x0a);
export const MAC_B = Uint8Array.of(0x00, 0x16, 0x3e, 0x00, 0x00, 0x0b);

/** A stack with one interface `xn0` on a fake driver. */
export function makeHost(clock: Clock, mac: Uint8Array, config: { inet?: string; inet6?: string }, name = 'xn0'): { stack: NetStack; driver: FakeDriver } {
  const stack = new NetStack({ now: clock.now });
  const driver = new FakeDriver(name, mac);
  stack.attach(driver);
  stack.configure(name, config);
  return { stack, driver };
}

/** Two stacks back to back: what one transmits the other receives, at once. */
export function backToBack(clock: Clock): { a: NetStack; b: NetStack; da: FakeDriver; db: FakeDriver } {
  const { stack: a, driver: da } = makeHost(clock, MAC_A, { inet: '10.0.0.1/24', inet6: 'fd00::1/64' });
  const { stack: b, driver: db } = makeHost(clock, MAC_B, { inet: '10.0.0.2/24', inet6: 'fd00::2/64' });
  da.wire = (f) => b.input('xn0', f);
  db.wire = (f) => a.input('xn0', f);
  return { a, b, da, db };
}

/** The EtherType of a frame. */
export function etherType(frame: Uint8Array): number {
  return (frame[12]! << 8) | frame[13]!;
}

/** Two stacks joined by a cable that carries frames only when the test calls {@link Cable.pump}. */
export class Cable {
  private readonly queue: { to: NetStack; frame: Uint8Array }[] = [];

  constructor(
    readonly a: NetStack,
    readonly da: FakeDriver,
    readonly b: NetStack,
    readonly db: FakeDriver,
  ) {
    da.wire = (f) => this.queue.push({ to: b, frame: f });
    db.wire = (f) => this.queue.push({ to: a, frame: f });
  }

  /** Delivers the frames in flight (not those their delivery sends); returns how many. */
  pump(): number {
    const now = this.queue.splice(0);
    for (const { to, frame } of now) to.input('xn0', frame);
    return now.length;
  }

  /** Pumps until nothing is in flight. */
  drain(): void {
    while (this.pump() > 0);
  }
}

/** Two stacks on a {@link Cable}. */
export function cabled(clock: Clock): Cable {
  const { stack: a, driver: da } = makeHost(clock, MAC_A, { inet: '10.0.0.1/24', inet6: 'fd00::1/64' });
  const { stack: b, driver: db } = makeHost(clock, MAC_B, { inet: '10.0.0.2/24', inet6: 'fd00::2/64' });
  return new Cable(a, da, b, db);
}
