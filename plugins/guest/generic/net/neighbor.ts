/**
 * A neighbour cache (FreeBSD's lltable, used by ARP and by IPv6 neighbour discovery): next hop → MAC,
 * with a bounded hold queue per unresolved next hop, retries by virtual time and expiry.
 */

export interface NeighborOptions {
  /** Solicitations sent for one resolution before its held packets are dropped. */
  tries: number;
  /** Virtual ns between two solicitations. */
  retryNs: number;
  /** Packets held per unresolved next hop (FreeBSD's net.link.ether.inet.maxhold); the oldest go first. */
  maxHold: number;
  /** Virtual ns a resolved entry is trusted (FreeBSD's net.link.ether.inet.max_age, 1200 s). */
  lifetimeNs: number;
  /** Entries kept; the oldest is evicted to make room. */
  maxEntries: number;
}

/** Counters of one cache. */
export interface NeighborCounters {
  /** Held packets dropped: the hold queue overflowed, resolution gave up, or the entry was evicted. */
  dropped: number;
  /** Resolutions given up after the last try. */
  timeouts: number;
}

/** One entry as `arp -a` / `ndp -a` show it. */
export interface NeighborEntry<A> {
  target: A;
  /** Undefined while incomplete. */
  mac: Uint8Array | undefined;
  /** Virtual ns at which a resolved entry expires. */
  expires: number;
}

interface Entry<A> extends NeighborEntry<A> {
  tries: number;
  nextTry: number;
  hold: Uint8Array[];
}

/** One interface's cache for one family: K is the lookup key (IPv4 number, IPv6 text), A the address solicited. */
export class NeighborCache<K, A> {
  readonly counters: NeighborCounters = { dropped: 0, timeouts: 0 };
  private readonly entries = new Map<K, Entry<A>>();
  private incomplete = 0;

  /**
   * @param solicit sends one solicitation (ARP request, neighbour solicitation) for `target`.
   * @param transmit sends a held frame once its destination MAC (bytes 0–5) has been filled in.
   */
  constructor(
    private readonly now: () => number,
    private readonly options: NeighborOptions,
    private readonly solicit: (target: A) => void,
    private readonly transmit: (frame: Uint8Array) => void,
  ) {}

  /** The MAC of `key` when resolved and not expired. */
  lookup(key: K): Uint8Array | undefined {
    const e = this.entries.get(key);
    if (e === undefined || e.mac === undefined) return undefined;
    if (e.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.mac;
  }

  /**
   * Holds a copy of `frame` (destination MAC still to fill in) until `key` resolves; starts resolving it if
   * needed. The caller may reuse `frame` afterwards.
   */
  hold(key: K, target: A, frame: Uint8Array): void {
    let e = this.entries.get(key);
    if (e !== undefined && e.mac !== undefined) {
      frame.set(e.mac, 0);
      this.transmit(frame);
      return;
    }
    const held = frame.slice();
    if (e === undefined) {
      this.makeRoom();
      e = { target, mac: undefined, expires: 0, tries: 1, nextTry: this.now() + this.options.retryNs, hold: [] };
      this.entries.set(key, e);
      this.incomplete++;
      e.hold.push(held);
      this.solicit(target);
      return;
    }
    if (e.hold.length >= this.options.maxHold) {
      e.hold.shift();
      this.counters.dropped++;
    }
    e.hold.push(held);
  }

  /**
   * Records that `key` is at `mac` (copied) and sends what was held for it. With `create` false only an
   * entry that exists is updated (RFC 826's merge: a host not talking to us does not get an entry).
   */
  learn(key: K, target: A, mac: Uint8Array, create: boolean): void {
    let e = this.entries.get(key);
    if (e === undefined) {
      if (!create) return;
      this.makeRoom();
      e = { target, mac: undefined, expires: 0, tries: 0, nextTry: 0, hold: [] };
      this.entries.set(key, e);
      this.incomplete++;
    }
    if (e.mac === undefined) {
      e.mac = mac.slice(0, 6);
      this.incomplete--;
    } else if (!sameMac(e.mac, mac)) e.mac = mac.slice(0, 6);
    e.expires = this.now() + this.options.lifetimeNs;
    const held = e.hold;
    e.hold = [];
    for (const frame of held) {
      frame.set(e.mac, 0);
      this.transmit(frame);
    }
  }

  /** The earliest virtual time at which {@link timeout} has work; 0 when none. */
  deadline(): number {
    if (this.incomplete === 0) return 0;
    let next = Infinity;
    for (const e of this.entries.values()) if (e.mac === undefined && e.nextTry < next) next = e.nextTry;
    return next === Infinity ? 0 : next;
  }

  /** Re-sends due solicitations; gives up (dropping the held packets) after the last try. */
  timeout(): void {
    if (this.incomplete === 0) return;
    const now = this.now();
    for (const [key, e] of this.entries) {
      if (e.mac !== undefined || e.nextTry > now) continue;
      if (e.tries >= this.options.tries) {
        this.counters.timeouts++;
        this.remove(key, e);
        continue;
      }
      e.tries++;
      e.nextTry = now + this.options.retryNs;
      this.solicit(e.target);
    }
  }

  /** Every entry (resolved or not), oldest first. */
  list(): NeighborEntry<A>[] {
    return [...this.entries.values()].map((e) => ({ target: e.target, mac: e.mac?.slice(), expires: e.expires }));
  }

  /** Forgets everything, dropping held packets (the interface went away or was reconfigured). */
  clear(): void {
    for (const [key, e] of this.entries) this.remove(key, e);
  }

  private makeRoom(): void {
    if (this.entries.size < this.options.maxEntries) return;
    const first = this.entries.entries().next();
    if (!first.done) this.remove(first.value[0], first.value[1]);
  }

  private remove(key: K, e: Entry<A>): void {
    this.entries.delete(key);
    if (e.mac === undefined) this.incomplete--;
    this.counters.dropped += e.hold.length;
    e.hold = [];
  }
}

function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}
