/**
 * Dom0's process runner: the part of a Dom0 kernel the simulator needs. Each Dom0 vCPU runs a loop that
 * takes the next queued task, runs it to completion (its blocking requests let the vCPU's time pass),
 * settles its job, and blocks when the queue is empty. Submitting kicks an idle vCPU.
 */
import type { Dom0Job, Dom0TaskBody, Dom0Tasks, Dom0Waiter } from '../api/dom0.js';
import type { Domain, VcpuApi, VcpuCoroutine } from '../api/domain.js';
import { EVTCHNOP, EVTCHN_FIFO_MASKED, EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES, EvtchnExpandArray, EvtchnInitControl } from '../public/event-channel.js';
import { PAGE_SIZE } from '../public/memory.js';
import { VcpuInfo } from '../public/shared-info.js';
import { errnoName } from '../public/errno.js';
import { guestFrame } from '../public/types.js';
import { Hypercall } from '../public/xen.js';
import type { Logger } from '../api/log.js';

/** What one pass of the idle loop costs (an interrupt entry and exit, roughly). */
const IDLE_WAKE_CYCLES = 2000;

/** A page of Dom0's: where its kernel writes it (pseudo-physical) and what it names in hypercalls (PV: the MFN). */
interface Dom0Page {
  gfn: number;
  mfn: number;
}

/**
 * Where Dom0's kernel keeps its FIFO event-channel structures, at the top of its memory: one scratch page
 * for the op structs, a control block per vCPU, and every event-array page, so all 2^17 ports have an
 * event word from the start.
 */
interface FifoLayout {
  scratch: Dom0Page;
  control: Dom0Page[];
  array: Dom0Page[];
}

function fifoLayout(dom0: Domain): FifoLayout | undefined {
  const p2m = dom0.p2m;
  const frames = dom0.vcpus.length + EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES + 1;
  const top = dom0.totPages;
  // Leave most of Dom0 to everything else: too small a Dom0 stays on the 2-level ABI.
  if (top < 4 * frames) return undefined;
  const pages: Dom0Page[] = [];
  for (let gfn = top - frames; gfn < top; gfn++) {
    const mfn = p2m.mfnOf(guestFrame(gfn));
    if (!(mfn >= 0)) return undefined;
    pages.push({ gfn, mfn });
  }
  return { scratch: pages[0]!, control: pages.slice(1, 1 + dom0.vcpus.length), array: pages.slice(1 + dom0.vcpus.length) };
}

/**
 * What Linux's evtchn_fifo_init does at boot, from a Dom0 vCPU: EVTCHNOP_init_control for every vCPU, then
 * the event array, its words MASKED first (Linux's init_array_page). Dom0's services hear their ports in
 * process (`EventChannels.onEvent`) and never unmask them, so events only set PENDING: no queue, no upcall.
 * Returns the failing step, if any.
 */
function switchToFifo(v: VcpuApi, layout: FifoLayout): string | undefined {
  const op = layout.scratch.gfn * PAGE_SIZE;
  const mem = v.memory;
  const masked = new Uint8Array(PAGE_SIZE);
  new Uint32Array(masked.buffer).fill((1 << EVTCHN_FIFO_MASKED) >>> 0);
  for (const page of layout.array) mem.write(page.gfn * PAGE_SIZE, masked);
  for (let vcpu = 0; vcpu < layout.control.length; vcpu++) {
    mem.writeU64Big(op + EvtchnInitControl.controlGfn, BigInt(layout.control[vcpu]!.mfn));
    mem.writeU32(op + EvtchnInitControl.offset, 0);
    mem.writeU32(op + EvtchnInitControl.vcpu, vcpu);
    const rc = v.hypercall(Hypercall.event_channel_op, EVTCHNOP.init_control, op);
    if (rc < 0) return `init_control vcpu${vcpu}: ${errnoName(rc)}`;
  }
  for (const page of layout.array) {
    mem.writeU64Big(op + EvtchnExpandArray.arrayGfn, BigInt(page.mfn));
    const rc = v.hypercall(Hypercall.event_channel_op, EVTCHNOP.expand_array, op);
    if (rc < 0) return `expand_array: ${errnoName(rc)}`;
  }
  return undefined;
}

class Job<T> implements Dom0Job<T> {
  state: Dom0Job<T>['state'] = 'queued';
  result: T | undefined;
  error: Error | undefined;
  private listeners: ((job: Dom0Job<T>) => void)[] | null = [];

  constructor(
    readonly name: string,
    readonly body: Dom0TaskBody<T>,
  ) {}

  onSettled(fn: (job: Dom0Job<T>) => void): void {
    if (this.listeners === null) fn(this);
    else this.listeners.push(fn);
  }

  settle(state: 'done' | 'failed', result: T | undefined, error: Error | undefined): void {
    this.state = state;
    this.result = result;
    this.error = error;
    const listeners = this.listeners ?? [];
    this.listeners = null;
    for (const fn of listeners) fn(this);
  }
}

const NO_BODY = function* (): Generator<never, never, unknown> {
  throw new Error('not a task');
};

export class Dom0TasksImpl implements Dom0Tasks {
  private readonly queue: Job<unknown>[] = [];
  private running = 0;
  private idle: { kick(): void }[] = [];

  constructor(private readonly log: Logger) {}

  get pending(): number {
    return this.queue.length + this.running;
  }

  /**
   * Gives every vCPU of Dom0 the task loop. Dom0's services hear their event channels in process
   * (`EventChannels.onEvent`), so its vCPUs run with event upcalls masked, as a kernel polling its
   * work queue does: HLT then wakes only for a submitted task. vCPU 0 first switches Dom0 to the FIFO
   * event-channel ABI, as Linux does at boot, so its services may bind up to 2^17 ports.
   */
  attach(dom0: Domain): void {
    const layout = fifoLayout(dom0);
    if (layout === undefined) this.log.warn(`dom0 has ${dom0.totPages} pages: too few for the FIFO event-channel ABI; it stays 2-level (4095 ports)`);
    const log = this.log;
    // vCPU 0 does it before its first task (as Linux's boot CPU does), so no task runs on the 2-level ABI.
    const boot = (v: VcpuApi): void => {
      if (layout === undefined || v.vcpuId !== 0) return;
      let failed: string | undefined;
      try {
        failed = switchToFifo(v, layout);
      } catch (e) {
        failed = e instanceof Error ? e.message : String(e);
      }
      if (failed !== undefined) log.warn(`dom0 stays on the 2-level event-channel ABI: ${failed}`);
    };
    const shared = dom0.sharedInfo;
    for (const vcpu of dom0.vcpus) {
      const quiesce = (): void => {
        const loc = shared.vcpuInfo(vcpu.vcpuId);
        loc.bytes[loc.offset + VcpuInfo.evtchnUpcallMask] = 1;
        loc.bytes[loc.offset + VcpuInfo.evtchnUpcallPending] = 0;
      };
      quiesce();
      vcpu.setProgram((v) => this.loop(v, vcpu, quiesce, boot));
    }
  }

  waiter<T>(name: string): Dom0Waiter<T> {
    const job = new Job<T>(name, NO_BODY);
    job.state = 'running';
    return {
      job,
      resolve: (value) => {
        if (job.state === 'running') job.settle('done', value, undefined);
      },
      reject: (error) => {
        if (job.state === 'running') job.settle('failed', undefined, error);
      },
    };
  }

  failed<T>(name: string, error: Error): Dom0Job<T> {
    const job = new Job<T>(name, NO_BODY);
    job.settle('failed', undefined, error);
    return job;
  }

  submit<T>(name: string, body: Dom0TaskBody<T>): Dom0Job<T> {
    const job = new Job<T>(name, body);
    this.queue.push(job as Job<unknown>);
    this.idle.shift()?.kick();
    return job;
  }

  private *loop(v: VcpuApi, vcpu: { kick(): void }, quiesce: () => void, boot: (v: VcpuApi) => void): VcpuCoroutine {
    boot(v);
    for (;;) {
      const job = this.queue.shift();
      if (job === undefined) {
        // The idle loop: whatever woke us (a stray upcall, a relocated vcpu_info) is acknowledged and
        // costs a little time, so a vCPU that cannot stay halted still lets time pass.
        quiesce();
        v.compute(IDLE_WAKE_CYCLES);
        this.idle.push(vcpu);
        yield v.halt();
        const i = this.idle.indexOf(vcpu);
        if (i >= 0) this.idle.splice(i, 1);
        continue;
      }
      job.state = 'running';
      this.running++;
      let result: unknown;
      let error: Error | undefined;
      try {
        result = yield* job.body(v);
      } catch (e) {
        error = e instanceof Error ? e : new Error(String(e));
      }
      this.running--;
      if (error) {
        this.log.debug(`${job.name}: ${error.message}`);
        job.settle('failed', undefined, error);
      } else job.settle('done', result, undefined);
    }
  }
}
