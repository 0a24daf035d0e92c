/**
 * Interrupt handlers and the idle loop's rounds (FreeBSD's kern/kern_intr.c, reduced): what a driver
 * binds, the bound handler a CPU keeps, running a CPU's due handlers once, waiting for their ports, and
 * tsleep on top of both.
 */
import type { VcpuRequest } from '../../../../core/api/index.js';
import type { Pcpu } from './pcpu.js';

/**
 * What a driver binds: an event-channel (or, natively, vector) handler (FreeBSD's intr handlers) that
 * looks at its ring and says whether it found work. It runs after its port's pending bit is cleared
 * (`pending` says whether it was set, so nothing is lost), or when it is due — so work a handler has
 * besides its event (output still queued, events a thread already drained from a ring, a periodic
 * policy) must make it due: through the bound handler's {@link IntrHandler.due}, or a `deadline`.
 */
export interface IntrHandlerSpec {
  readonly name: string;
  readonly port: number;
  /** Its work, true when it found some; a handler that never blocks may answer at once instead of as a generator. */
  handle(pending: boolean): Generator<VcpuRequest, boolean, unknown> | boolean;
  /**
   * For work whose time moves with state the kernel does not see change (the network stack's timers):
   * absolute virtual time (ns) by which to run the handler even without an event (1: at once; 0 =
   * none), asked on every idle round. Other drivers set {@link IntrHandler.due} when their work changes.
   */
  deadline?(): number;
}

/** A bound handler as the kernel keeps it: one shape for all, so the idle loop's reads stay cheap. */
export class IntrHandler {
  readonly name: string;
  readonly port: number;
  /** Its index in its CPU's handler lists while bound (−1: not bound). @internal */
  slot = -1;
  /** Whether the spec has a pull-style `deadline` (asked on every idle round). */
  readonly pulls: boolean;
  private readonly spec: IntrHandlerSpec;
  private readonly run: IntrHandlerSpec['handle'];
  private readonly pull: (() => number) | undefined;
  /** The due time while not bound to a CPU. */
  private unboundDue = 0;

  constructor(
    spec: IntrHandlerSpec,
    /** The CPU whose idle loop runs it. */
    readonly cpu: Pcpu,
  ) {
    this.spec = spec;
    this.name = spec.name;
    this.port = spec.port;
    this.run = spec.handle;
    this.pull = spec.deadline;
    this.pulls = spec.deadline !== undefined;
  }

  /**
   * Absolute virtual time (ns) by which the idle loop runs the handler even without an event (1: at
   * once; 0 = none). Its driver sets it when its work changes, as a FreeBSD driver arms a callout: the
   * idle loop reads a slot of its CPU's list rather than asking every driver on every round.
   */
  get due(): number {
    return this.slot < 0 ? this.unboundDue : this.cpu.intrDue[this.slot]!;
  }

  set due(at: number) {
    if (this.slot < 0) this.unboundDue = at;
    else this.cpu.intrDue[this.slot] = at;
  }

  handle(pending: boolean): Generator<VcpuRequest, boolean, unknown> | boolean {
    return this.run.call(this.spec, pending);
  }

  /** When it is next due without an event: the earlier of {@link due} and the spec's deadline (0 = none). */
  nextDue(): number {
    const pushed = this.due;
    if (this.pull === undefined) return pushed;
    const pulled = this.pull.call(this.spec);
    return pushed === 0 ? pulled : pulled === 0 ? pushed : Math.min(pushed, pulled);
  }
}

/**
 * A round's scratch by number of handlers: their ports and which fired. Filled and read before any
 * handler runs, with no yield between, so one pair per length serves every CPU of every kernel (and
 * stays in cache as a thousand idle guests tick in turn).
 */
const INTR_SCRATCH: { readonly ports: number[]; readonly fired: boolean[] }[] = [];

function intrScratch(n: number): { readonly ports: number[]; readonly fired: boolean[] } {
  let scratch = INTR_SCRATCH[n];
  if (scratch === undefined) {
    scratch = { ports: new Array<number>(n).fill(0), fired: new Array<boolean>(n).fill(false) };
    INTR_SCRATCH[n] = scratch;
  }
  return scratch;
}

/**
 * The due handlers of the round being run and whether each one's port fired: shared by every CPU too,
 * as a round runs at once until a handler answers with a generator, and that round copies what it has
 * left before it first yields (see {@link finishRound}).
 */
const DUE: IntrHandler[] = [];
const DUE_PENDING: boolean[] = [];

/**
 * Runs `cpu`'s due handlers once: those whose port was pending (acknowledged first) and those that
 * are due. True when any found work.
 */
export function* runIntrOn(cpu: Pcpu): Generator<VcpuRequest, boolean, unknown> {
  const r = runIntr(cpu);
  return typeof r === 'boolean' ? r : yield* r;
}

/**
 * {@link runIntrOn} without a generator while every due handler answers at once (hardclock, on every
 * tick): whether any found work, or — from the first handler that answers with a generator — a
 * generator that runs it and the rest, for the caller to `yield*` at once.
 */
export function runIntr(cpu: Pcpu): boolean | Generator<VcpuRequest, boolean, unknown> {
  const count = startRound(cpu);
  const running = cpu.intrRunning;
  let worked = false;
  for (let i = 0; i < count; i++) {
    const h = DUE[i]!;
    running.push(h);
    let r: boolean | Generator<VcpuRequest, boolean, unknown>;
    try {
      r = h.handle(DUE_PENDING[i]!);
    } catch (error) {
      leave(running, h);
      throw error;
    }
    if (typeof r !== 'boolean') {
      // The rest of the round may outlive the shared lists (the handler may sleep): it takes a copy.
      return finishRound(cpu, h, r, worked, DUE.slice(i + 1, count), DUE_PENDING.slice(i + 1, count));
    }
    leave(running, h);
    if (r) worked = true;
  }
  return worked;
}

/** The rest of a round: handler `h`, which answered with `first` (and is on the running list), then `rest`. */
function* finishRound(
  cpu: Pcpu,
  h: IntrHandler,
  first: Generator<VcpuRequest, boolean, unknown>,
  worked: boolean,
  rest: IntrHandler[],
  pending: boolean[],
): Generator<VcpuRequest, boolean, unknown> {
  const running = cpu.intrRunning;
  try {
    if (yield* first) worked = true;
  } finally {
    leave(running, h);
  }
  for (let i = 0; i < rest.length; i++) {
    const next = rest[i]!;
    running.push(next);
    try {
      const r = next.handle(pending[i]!);
      if (typeof r === 'boolean' ? r : yield* r) worked = true;
    } finally {
      leave(running, next);
    }
  }
  return worked;
}

/** Takes `h` off `running` (the last one, unless a handler left out of order). */
function leave(running: IntrHandler[], h: IntrHandler): void {
  if (running[running.length - 1] === h) running.pop();
  else running.splice(running.lastIndexOf(h), 1);
}

/**
 * Acknowledges every port of `cpu`'s handlers (those running now left out) and lists the due ones in
 * {@link DUE}; returns how many. Every readiness is decided before any handler runs, so the handler
 * list is not copied: handlers bound meanwhile wait for the next round.
 */
function startRound(cpu: Pcpu): number {
  if (cpu.intrRunning.length !== 0) return startNestedRound(cpu);
  const handlers = cpu.intr;
  const n = handlers.length;
  const { fired } = intrScratch(n);
  for (let i = 0; i < n; i++) fired[i] = false;
  const events = cpu.events;
  const ports = cpu.intrPorts;
  if (events.consumeAll !== undefined) events.consumeAll(ports, fired);
  else for (let i = 0; i < n; i++) fired[i] = events.consume(ports[i]!);
  const due = cpu.intrDue;
  const pull = cpu.intrPull;
  const now = cpu.v.now;
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (!fired[i]) {
      const at = pull[i] ? handlers[i]!.nextDue() : due[i]!;
      if (at === 0 || at > now) continue;
    }
    DUE[count] = handlers[i]!;
    DUE_PENDING[count] = fired[i]!;
    count++;
  }
  return count;
}

/** {@link startRound} while handlers run (a nested round): those running are left out, ports and all. */
function startNestedRound(cpu: Pcpu): number {
  const running = cpu.intrRunning;
  const handlers = cpu.intr.filter((h) => !running.includes(h));
  const n = handlers.length;
  const { ports, fired } = intrScratch(n);
  for (let i = 0; i < n; i++) fired[i] = false;
  const events = cpu.events;
  if (events.consumeAll !== undefined) {
    for (let i = 0; i < n; i++) ports[i] = handlers[i]!.port;
    events.consumeAll(ports, fired);
  } else for (let i = 0; i < n; i++) fired[i] = events.consume(handlers[i]!.port);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const h = handlers[i]!;
    if (!fired[i]) {
      const due = h.nextDue();
      if (due === 0 || due > cpu.v.now) continue;
    }
    DUE[count] = h;
    DUE_PENDING[count] = fired[i]!;
    count++;
  }
  return count;
}

/**
 * Sleeps on `cpu`'s interrupt ports (each once) until one fires or the earliest handler deadline or
 * `timeout` (absolute virtual ns, 0 = none) comes. `skipRunning`: handlers running now are left out —
 * their ports stay pending, so waiting on them would return at once.
 */
export function* waitIntr(cpu: Pcpu, timeout: number, skipRunning: boolean): Generator<VcpuRequest, void, unknown> {
  const ports: number[] = [];
  const deadline = intrWaitFor(cpu, timeout, skipRunning, ports);
  yield* cpu.events.wait(ports, deadline);
}

/**
 * {@link waitIntr} of the idle loop (nothing running) as one request to yield, where the CPU's event
 * waiter can start its wait without a generator; undefined where it cannot (use waitIntr).
 */
export function startWaitIntr(cpu: Pcpu): VcpuRequest | undefined {
  const events = cpu.events;
  if (events.startWait === undefined) return undefined;
  const ports = cpu.idlePorts;
  return events.startWait(ports, intrWaitFor(cpu, 0, false, ports));
}

/** Sets `ports` to the ports to wait on (each once) and returns the wait's timeout (0 = none). */
function intrWaitFor(cpu: Pcpu, timeout: number, skipRunning: boolean, ports: number[]): number {
  if (skipRunning && cpu.intrRunning.length > 0) return nestedWaitFor(cpu, timeout, ports);
  // Every handler: the CPU's own lists say it all.
  if (ports !== cpu.idlePorts) {
    const idle = cpu.idlePorts;
    ports.length = idle.length;
    for (let i = 0; i < idle.length; i++) ports[i] = idle[i]!;
  }
  let deadline = timeout > 0 ? timeout : Infinity;
  const due = cpu.intrDue;
  const pull = cpu.intrPull;
  for (let i = 0; i < due.length; i++) {
    const d = pull[i] ? cpu.intr[i]!.nextDue() : due[i]!;
    if (d > 0 && d < deadline) deadline = d;
  }
  return deadline === Infinity ? 0 : deadline;
}

/** {@link intrWaitFor} leaving out the handlers running now. */
function nestedWaitFor(cpu: Pcpu, timeout: number, ports: number[]): number {
  let deadline = timeout > 0 ? timeout : Infinity;
  let count = 0;
  for (const h of cpu.intr) {
    if (cpu.intrRunning.includes(h)) continue;
    const port = h.port;
    if (!hasPort(ports, count, port)) ports[count++] = port;
    const d = h.nextDue();
    if (d > 0 && d < deadline) deadline = d;
  }
  if (ports.length !== count) ports.length = count;
  return deadline === Infinity ? 0 : deadline;
}

function hasPort(ports: readonly number[], count: number, port: number): boolean {
  for (let i = 0; i < count; i++) if (ports[i] === port) return true;
  return false;
}

/**
 * Sleeps on CPU `cpu` until `done()` holds (FreeBSD's tsleep with its wakeup by event): serves the
 * CPU's interrupts meanwhile and waits for their ports (the IPI port among them). Returns false when `timeout`
 * (absolute virtual ns, 0 = none) passed first.
 */
export function* tsleep(cpu: Pcpu, done: () => boolean, timeout = 0): Generator<VcpuRequest, boolean, unknown> {
  for (;;) {
    yield* runIntrOn(cpu);
    if (done()) return true;
    if (timeout > 0 && cpu.v.now >= timeout) return false;
    // A handler that is running (the console's, under a shell command) is not served here: its port stays pending, so it is not waited on either.
    yield* waitIntr(cpu, timeout, true);
  }
}
