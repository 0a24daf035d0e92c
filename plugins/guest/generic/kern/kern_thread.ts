/**
 * Kernel threads (FreeBSD's kthread_add): a named coroutine queued on one CPU's run queue and run there
 * by its idle loop; `ps` lists them with the idle and interrupt threads. There is no in-kernel
 * preemption between threads of one CPU: a thread runs until it finishes or sleeps (serving its CPU's
 * interrupts while it sleeps).
 */
import type { VcpuRequest } from '../../../../core/api/index.js';
import type { Kernel } from './kernel.js';
import type { Pcpu } from './pcpu.js';

export type ThreadState = 'RunQ' | 'Run' | 'Sleep';

export class KThread {
  state: ThreadState = 'RunQ';
  /** What it sleeps on, when it does (`ps`' MWCHAN). */
  wchan = '';
  done = false;

  constructor(
    readonly tid: number,
    readonly name: string,
    readonly cpu: Pcpu,
    readonly body: (td: KThread) => Generator<VcpuRequest, void, unknown>,
  ) {}
}

/** Queues a new thread on `cpu` and wakes that CPU if it is another one. */
export function kthreadAdd(k: Kernel, cpu: Pcpu, name: string, body: (td: KThread) => Generator<VcpuRequest, void, unknown>, from: Pcpu): KThread {
  const td = new KThread(k.nextTid++, name, cpu, body);
  k.threads.push(td);
  cpu.runq.push(td);
  if (cpu !== from) k.hooks.ipi.send(from, cpu);
  return td;
}

/** Runs one queued thread of `cpu` to its end; false when the queue was empty. */
export function* runQueued(k: Kernel, cpu: Pcpu): Generator<VcpuRequest, boolean, unknown> {
  const td = cpu.runq.shift();
  if (td === undefined) return false;
  td.state = 'Run';
  cpu.curthread = td;
  try {
    yield* td.body(td);
  } catch (error) {
    k.printf(`${td.name}: ${(error as Error).message}`);
  } finally {
    td.done = true;
    cpu.curthread = undefined;
    k.threads.splice(k.threads.indexOf(td), 1);
  }
  return true;
}
