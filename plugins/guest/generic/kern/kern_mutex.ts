/**
 * Sleep mutexes (FreeBSD's kern_mutex.c). A contended lock is, by default, adaptive: the waiter spins
 * while the owner thread is running (TD_IS_RUNNING, the guest's own view) and sleeps otherwise. In a
 * VM that view is wrong while Xen has preempted the owner's vCPU, and the waiter burns its time slice
 * spinning — the advice the FreeBSD XENHVM config follows with `options NO_ADAPTIVE_MUTEXES`, under
 * which a contended lock sleeps at once (a turnstile: the waiter's CPU sleeps on its ports and the
 * unlocking CPU wakes it with an IPI). `debug.mtx.runstate_check=1` is the paravirtual middle way:
 * the spinner also reads the owner vCPU's Xen runstate record and stops spinning when it is not running.
 */
import type { VcpuRequest } from '../../../../core/api/index.js';
import { RUNSTATE, VcpuRunstateInfo } from '../../../../core/public/index.js';
import type { Kernel } from './kernel.js';
import { tsleep } from './kern_intr.js';
import type { KThread } from './kern_thread.js';
import { PCPU_RUNSTATE, type Pcpu } from './pcpu.js';

/** Cycles of one spin iteration (a few PAUSE instructions and a re-read of the lock word). */
export const MTX_SPIN_CYCLES = 200;

/** What a mutex counted. */
export interface MtxStats {
  acquisitions: number;
  /** Lock attempts that found it held. */
  contested: number;
  /** Cycles spent spinning on it. */
  spinCycles: number;
  /** Times a waiter went to sleep on it. */
  sleeps: number;
}

export class Mtx {
  private owner: KThread | undefined;
  private readonly sleepers: Pcpu[] = [];
  readonly stats: MtxStats = { acquisitions: 0, contested: 0, spinCycles: 0, sleeps: 0 };

  constructor(
    private readonly k: Kernel,
    readonly name: string,
    /** False under options NO_ADAPTIVE_MUTEXES. */
    readonly adaptive: boolean,
  ) {}

  /** Whether a spinner believes the owner runs: its thread is on a CPU and, with runstate_check, its vCPU too. */
  private ownerRunning(owner: KThread, reader: Pcpu): boolean {
    if (owner.state !== 'Run') return false;
    if (!this.k.mtxRunstateCheck || owner.cpu.area === 0) return true;
    return reader.v.memory.readU32(owner.cpu.area + PCPU_RUNSTATE + VcpuRunstateInfo.state) === RUNSTATE.running;
  }

  /** mtx_lock by thread `td` on its CPU. */
  *lock(td: KThread): Generator<VcpuRequest, void, unknown> {
    const cpu = td.cpu;
    let contested = false;
    for (;;) {
      cpu.v.charge('memoryAccess');
      const owner = this.owner;
      if (owner === undefined) {
        this.owner = td;
        this.stats.acquisitions++;
        return;
      }
      if (!contested) this.stats.contested++;
      contested = true;
      if (this.adaptive && this.ownerRunning(owner, cpu)) {
        cpu.v.compute(MTX_SPIN_CYCLES);
        this.stats.spinCycles += MTX_SPIN_CYCLES;
        yield cpu.v.preempt();
        continue;
      }
      this.stats.sleeps++;
      this.sleepers.push(cpu);
      td.state = 'Sleep';
      td.wchan = this.name;
      yield* tsleep(cpu, () => this.owner === undefined || this.owner === td);
      td.state = 'Run';
      td.wchan = '';
    }
  }

  /** mtx_unlock: wakes one sleeper (an IPI when it sleeps on another CPU). */
  unlock(td: KThread): void {
    if (this.owner !== td) throw new Error(`mtx_unlock of ${this.name} by ${td.name}, which does not own it`);
    this.owner = undefined;
    const next = this.sleepers.shift();
    if (next !== undefined && next !== td.cpu) this.k.hooks.ipi.send(td.cpu, next);
  }
}
