/**
 * Dom0's process runner: the part of a Dom0 kernel the simulator needs. Each Dom0 vCPU runs a loop that
 * takes the next queued task, runs it to completion (its blocking requests let the vCPU's time pass),
 * settles its job, and blocks when the queue is empty. Submitting kicks an idle vCPU.
 */
import type { Dom0Job, Dom0TaskBody, Dom0Tasks, Dom0Waiter } from '../api/dom0.js';
import { SharedInfoPage, type Domain, type VcpuApi, type VcpuCoroutine } from '../api/domain.js';
import { VcpuInfo } from '../public/shared-info.js';
import type { Logger } from '../api/log.js';

/** What one pass of the idle loop costs (an interrupt entry and exit, roughly). */
const IDLE_WAKE_CYCLES = 2000;

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
   * work queue does: HLT then wakes only for a submitted task.
   */
  attach(dom0: Domain): void {
    const shared = dom0.container.resolve(SharedInfoPage);
    for (const vcpu of dom0.vcpus) {
      const quiesce = (): void => {
        const loc = shared.vcpuInfo(vcpu.vcpuId);
        loc.bytes[loc.offset + VcpuInfo.evtchnUpcallMask] = 1;
        loc.bytes[loc.offset + VcpuInfo.evtchnUpcallPending] = 0;
      };
      quiesce();
      vcpu.setProgram((v) => this.loop(v, vcpu, quiesce));
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

  private *loop(v: VcpuApi, vcpu: { kick(): void }, quiesce: () => void): VcpuCoroutine {
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
