/** The run trace: every guest-visible event, folded into a running hash so two runs can be compared. */

/** What a trace record describes. Numbers are part of the hash: never renumber, only append. */
export enum TraceKind {
  Hypercall = 1,
  VmExit = 2,
  Interrupt = 3,
  EvtchnSend = 4,
  DomainState = 5,
  Schedule = 6,
  PageFault = 7,
  IommuFault = 8,
  Trap = 9,
  Timer = 10,
  Ipi = 11,
  Plugin = 12,
}

/** One trace record. `a`..`c` are kind-specific (e.g. hypercall number, op, result). */
export interface TraceRecord {
  time: number;
  kind: TraceKind;
  domid: number;
  vcpu: number;
  a: number;
  b: number;
  c: number;
}

/** Gets every record as it is made; the record is valid only during the call (copy it to keep it). */
export type TraceSink = (record: Readonly<TraceRecord>) => void;

const KINDS = Object.values(TraceKind).filter((v): v is TraceKind => typeof v === 'number');

/**
 * Accumulates counters and a 64-bit running hash (two independent 32-bit murmur-style lanes) over
 * every record. Recording costs a few multiplies; sinks and the ring of recent records are optional.
 */
export class Trace {
  private h1 = 0x9747b28c;
  private h2 = 0x1b873593;
  private total = 0;
  private readonly counts = new Float64Array(32);
  private readonly sinks: TraceSink[] = [];
  private recent: TraceRecord[] | null = null;
  private readonly scratch: TraceRecord = { time: 0, kind: TraceKind.Hypercall, domid: 0, vcpu: 0, a: 0, b: 0, c: 0 };
  private recentNext = 0;

  /** Keep the last `n` records for inspection (`xeno` dumps and test diagnostics). */
  keepRecent(n: number): void {
    this.recent = n > 0 ? [] : null;
    this.recentCapacity = n;
    this.recentNext = 0;
  }
  private recentCapacity = 0;

  /** Calls `sink` for every later record (a reused object: copy what you keep). Returns a function that removes it. */
  subscribe(sink: TraceSink): () => void {
    this.sinks.push(sink);
    return () => {
      const i = this.sinks.indexOf(sink);
      if (i >= 0) this.sinks.splice(i, 1);
    };
  }

  record(time: number, kind: TraceKind, domid: number, vcpu: number, a = 0, b = 0, c = 0): void {
    this.total++;
    this.counts[kind]!++;
    let h1 = this.h1;
    let h2 = this.h2;
    // Times and payloads may exceed 32 bits: fold the high part in separately.
    h1 = mix(h1, time >>> 0);
    h2 = mix(h2, Math.floor(time / 0x1_0000_0000) | 0);
    h1 = mix(h1, (kind << 16) ^ domid);
    h2 = mix(h2, vcpu);
    h1 = mix(h1, a | 0);
    h2 = mix(h2, Math.floor(a / 0x1_0000_0000) | 0);
    h1 = mix(h1, b | 0);
    h2 = mix(h2, c | 0);
    this.h1 = h1;
    this.h2 = h2;
    if (this.recent !== null || this.sinks.length > 0) {
      // Sinks get one reused record (no allocation per event); only the ring of recent records keeps its own.
      let rec: TraceRecord;
      if (this.recent === null) {
        rec = this.scratch;
        rec.time = time;
        rec.kind = kind;
        rec.domid = domid;
        rec.vcpu = vcpu;
        rec.a = a;
        rec.b = b;
        rec.c = c;
      } else {
        rec = { time, kind, domid, vcpu, a, b, c };
        if (this.recent.length < this.recentCapacity) this.recent.push(rec);
        else this.recent[this.recentNext] = rec;
        this.recentNext = (this.recentNext + 1) % this.recentCapacity;
      }
      for (const sink of this.sinks) sink(rec);
    }
  }

  /** The running hash as 16 hex digits. Equal hashes mean (with overwhelming probability) equal traces. */
  get hash(): string {
    const f1 = fmix(this.h1 ^ this.total);
    const f2 = fmix(this.h2 ^ Math.imul(this.total, 0x27d4eb2d));
    return (f1 >>> 0).toString(16).padStart(8, '0') + (f2 >>> 0).toString(16).padStart(8, '0');
  }

  /** Number of records of `kind`, or of all kinds. */
  count(kind?: TraceKind): number {
    return kind === undefined ? this.total : this.counts[kind]!;
  }

  /** Counts per kind name, for reports. */
  counters(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const kind of KINDS) if (this.counts[kind]! > 0) out[TraceKind[kind]] = this.counts[kind]!;
    return out;
  }

  /** The kept recent records, oldest first. */
  recentRecords(): TraceRecord[] {
    if (this.recent === null) return [];
    if (this.recent.length < this.recentCapacity) return [...this.recent];
    return [...this.recent.slice(this.recentNext), ...this.recent.slice(0, this.recentNext)];
  }
}

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
