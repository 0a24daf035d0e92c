/**
 * The credit scheduler (Xen's credit1, xen/common/sched/credit.c): proportional share by weight, caps,
 * BOOST on wake, per-pCPU runqueues and work stealing by idle pCPUs.
 */
import { GuestError, type SchedDecision, type SchedDomainParams, type SchedTimer, type SchedulerHost, type SchedulerOps, type SchedVcpu } from '../../../core/api/index.js';
import type { DomId, PcpuId } from '../../../core/public/index.js';
import type { CreditOptions } from './options.js';

/** Priorities (`CSCHED_PRI_*`): higher runs first. */
export const CSCHED_PRI = { BOOST: 0, UNDER: -1, OVER: -2, IDLE: -64 } as const;
type Pri = (typeof CSCHED_PRI)[keyof typeof CSCHED_PRI];
const PRI_NAME: Record<number, string> = { 0: 'BOOST', [-1]: 'UNDER', [-2]: 'OVER', [-64]: 'IDLE' };

export const CSCHED_DEFAULT_WEIGHT = 256;
export const CSCHED_CREDITS_PER_MSEC = 10;
const NS_PER_MS = 1_000_000;

interface CreditDom {
  readonly domid: DomId;
  weight: number;
  /** Percent of one pCPU; 0 = no cap. */
  cap: number;
  readonly vcpus: CreditVcpu[];
}

interface CreditVcpu {
  /** The scheduler whose record this is (a vCPU's `schedPriv` is only ever its own pool's). */
  readonly sched: CreditScheduler;
  readonly v: SchedVcpu;
  readonly dom: CreditDom;
  credit: number;
  pri: Pri;
  /** Accounted: earns credits each period (`__csched_vcpu_acct_start`). */
  active: boolean;
  /** Capped out until its credit is positive again (`CSCHED_FLAG_VCPU_PARKED`). */
  parked: boolean;
  yielded: boolean;
  /** The pCPU whose runqueue holds it, or -1. */
  queuedOn: number;
  /** Since when its credits have been burned. */
  burnFrom: number;
  /** When it was last switched in (ratelimit). */
  schedIn: number;
}

function byDomid(a: CreditDom, b: CreditDom): number {
  return a.domid - b.domid;
}

function activeCount(d: CreditDom): number {
  let n = 0;
  for (const s of d.vcpus) if (s.active) n++;
  return n;
}

/** A credit scheduler instance (one per cpu pool). */
export class CreditScheduler implements SchedulerOps {
  readonly name = 'SMP Credit Scheduler';
  readonly optName = 'credit';
  private host!: SchedulerHost;
  private readonly tsliceNs: number;
  private readonly ratelimitNs: number;
  /** Credits one vCPU burns in a time slice; also the bounds of a vCPU's credit. */
  private readonly creditsPerTslice: number;
  private readonly doms = new Map<number, CreditDom>();
  private readonly svcs = new Map<SchedVcpu, CreditVcpu>();
  /** Domains with an accounted vCPU (Xen's `active_sdom`): accounting visits these, not every domain. */
  private readonly activeDoms = new Set<CreditDom>();
  private runqs: CreditVcpu[][] = [];
  private acctTimer: SchedTimer | null = null;
  /** {@link acct}'s scratch: the active domains in domid order, and one domain's active vCPUs. */
  private readonly acctDoms: CreditDom[] = [];
  private readonly acctVcpus: CreditVcpu[] = [];
  private inAcct = false;

  constructor(options: CreditOptions) {
    if (options.ratelimit_us * 1000 > options.tslice_ms * NS_PER_MS) {
      throw new RangeError(`credit: ratelimit_us ${options.ratelimit_us} exceeds tslice_ms ${options.tslice_ms}`);
    }
    this.tsliceNs = options.tslice_ms * NS_PER_MS;
    this.ratelimitNs = options.ratelimit_us * 1000;
    this.creditsPerTslice = CSCHED_CREDITS_PER_MSEC * options.tslice_ms;
  }

  // --- helpers ---------------------------------------------------------------------------------

  private svc(v: SchedVcpu): CreditVcpu {
    const s = this.record(v);
    if (s === undefined) throw new Error(`credit: dom${v.domid} vcpu${v.vcpuId} was never inserted`);
    return s;
  }

  /** `v`'s record, when this scheduler has one. */
  private record(v: SchedVcpu): CreditVcpu | undefined {
    const s = v.schedPriv as CreditVcpu | undefined;
    return s !== undefined && s.sched === this ? s : undefined;
  }

  private dom(domid: DomId): CreditDom {
    const d = this.doms.get(domid);
    if (d === undefined) throw new GuestError('ESRCH', `credit: no domain ${domid} in the pool`, { domid });
    return d;
  }

  private curPri(cpu: PcpuId): number {
    const cur = this.host.current(cpu);
    return cur === null ? CSCHED_PRI.IDLE : (this.record(cur)?.pri ?? CSCHED_PRI.IDLE);
  }

  /** `__runq_insert`: at the tail of its priority class; a yielder goes behind one lower-priority vCPU. */
  private runqInsert(cpu: number, s: CreditVcpu): void {
    const q = this.runqs[cpu]!;
    let i = 0;
    while (i < q.length && q[i]!.pri >= s.pri) i++;
    if (s.yielded && i < q.length) i++;
    // Shifted by hand: splice would make an array of the removed elements on every wake.
    for (let j = q.length; j > i; j--) q[j] = q[j - 1]!;
    q[i] = s;
    s.queuedOn = cpu;
  }

  private runqRemove(s: CreditVcpu): void {
    if (s.queuedOn < 0) return;
    const q = this.runqs[s.queuedOn]!;
    const i = q.indexOf(s);
    if (i >= 0) {
      for (let j = i + 1; j < q.length; j++) q[j - 1] = q[j]!;
      q.pop();
    }
    s.queuedOn = -1;
  }

  /** The vCPU's processor, moved into its hard affinity when it is not (`csched_res_pick`, simplified). */
  private pickCpu(s: CreditVcpu): number {
    const { v } = s;
    if (v.hardAffinity.has(v.processor) && this.host.cpus.has(v.processor)) return v.processor;
    const cpu = v.hardAffinity.intersect(this.host.cpus).first()!;
    v.processor = cpu;
    return cpu;
  }

  /**
   * `__runq_tickle`: its pCPU reschedules when idle or when the newcomer outranks what runs there; if
   * the newcomer is not about to run there, one idle pCPU it may run on is woken to steal it.
   */
  private tickle(s: CreditVcpu): void {
    const cpu = s.queuedOn as PcpuId;
    if (s.queuedOn < 0) return;
    const idle = this.host.current(cpu) === null;
    if (idle || s.pri > this.curPri(cpu)) this.host.tickle(cpu);
    if (idle && this.runqs[cpu]!.length <= 1) return;
    const cpus = this.host.cpus.toArray();
    const start = cpus.indexOf(cpu);
    for (let k = 1; k < cpus.length; k++) {
      const peer = cpus[(start + k) % cpus.length]!;
      if (s.v.hardAffinity.has(peer) && this.host.current(peer) === null) {
        this.host.tickle(peer);
        return;
      }
    }
  }

  /** `burn_credits`: charges the time since `burnFrom`. */
  private burn(s: CreditVcpu, now: number): void {
    const ran = now - s.burnFrom;
    if (ran > 0) s.credit -= (ran * CSCHED_CREDITS_PER_MSEC) / NS_PER_MS;
    s.burnFrom = now;
    if (!s.active) this.acctStart(s);
  }

  private acctStart(s: CreditVcpu): void {
    s.active = true;
    this.activeDoms.add(s.dom);
    if (!this.inAcct) this.armAcct();
  }

  /** The accounting timer runs while any vCPU is accounted or parked, so an idle host has no pending events. */
  private armAcct(): void {
    if (this.acctTimer === null) this.acctTimer = this.host.timer(this.tsliceNs, (now) => this.acct(now));
  }

  private park(s: CreditVcpu): void {
    s.parked = true;
    this.runqRemove(s);
    if (s.v.runningOn !== undefined) this.host.tickle(s.v.runningOn);
  }

  private unpark(s: CreditVcpu): void {
    s.parked = false;
    if (s.v.runnable && s.v.runningOn === undefined && s.queuedOn < 0) {
      this.runqInsert(this.pickCpu(s), s);
      this.tickle(s);
    }
  }

  /** `csched_acct`: hands out one period's credits by weight, clamps, parks and unparks capped vCPUs. */
  private acct(now: number): void {
    this.acctTimer = null;
    this.inAcct = true;
    for (const cpu of this.host.cpus) {
      const cur = this.host.current(cpu);
      const s = cur === null ? undefined : this.record(cur);
      if (s !== undefined) this.burn(s, now);
    }
    // Reused arrays, not a spread and filters per domain: with a thousand idle guests this runs every
    // 30 ms over hundreds of domains.
    const doms = this.acctDoms;
    doms.length = 0;
    for (const d of this.activeDoms) doms.push(d);
    doms.sort(byDomid);
    let weightTotal = 0;
    for (const d of doms) weightTotal += d.weight * activeCount(d);
    const perAcct = this.creditsPerTslice;
    const creditTotal = perAcct * this.host.cpus.size;
    const active = this.acctVcpus;
    for (const d of doms) {
      active.length = 0;
      for (const s of d.vcpus) if (s.active) active.push(s);
      if (active.length === 0) this.activeDoms.delete(d);
      if (active.length === 0 || weightTotal === 0) continue;
      let creditPeak = active.length * perAcct;
      let capPerVcpu = 0;
      if (d.cap !== 0) {
        const creditCap = Math.ceil((d.cap * perAcct) / 100);
        if (creditCap < creditPeak) creditPeak = creditCap;
        capPerVcpu = Math.ceil(creditCap / active.length);
      }
      const creditFair = Math.min(Math.ceil((creditTotal * d.weight * active.length) / weightTotal), creditPeak);
      const perVcpu = Math.ceil(creditFair / active.length);
      for (const s of active) {
        s.credit += perVcpu;
        if (s.credit < 0) {
          s.pri = CSCHED_PRI.OVER;
          if (d.cap !== 0 && s.credit < -capPerVcpu && !s.parked) this.park(s);
          if (s.credit < -this.creditsPerTslice) s.credit = -this.creditsPerTslice;
        } else {
          s.pri = CSCHED_PRI.UNDER;
          if (s.parked) this.unpark(s);
          if (s.credit > this.creditsPerTslice) {
            s.active = false;
            s.credit /= 2;
            if (activeCount(d) === 0) this.activeDoms.delete(d);
          }
        }
        if (s.queuedOn >= 0) {
          this.runqRemove(s);
          this.runqInsert(this.pickCpu(s), s);
        }
      }
    }
    this.inAcct = false;
    // A parked vCPU is an active one (parking and unparking happen to accounted vCPUs only).
    if (this.activeDoms.size > 0) this.armAcct();
  }

  /** `csched_runq_steal` over the peers: the first queued vCPU that outranks `pri` and may run on `cpu`. */
  private steal(cpu: PcpuId, pri: number): CreditVcpu | null {
    const cpus = this.host.cpus.toArray();
    const start = cpus.indexOf(cpu);
    for (let k = 1; k < cpus.length; k++) {
      const peer = cpus[(start + k) % cpus.length]!;
      for (const s of this.runqs[peer]!) {
        if (s.pri > pri && s.v.hardAffinity.has(cpu)) {
          this.runqRemove(s);
          return s;
        }
      }
    }
    return null;
  }

  // --- SchedulerOps ----------------------------------------------------------------------------

  init(host: SchedulerHost): void {
    this.host = host;
    const last = host.cpus.toArray()[host.cpus.size - 1] ?? 0;
    this.runqs = Array.from({ length: last + 1 }, () => []);
  }

  deinit(): void {
    this.acctTimer?.cancel();
    this.acctTimer = null;
    for (const v of this.svcs.keys()) v.schedPriv = undefined;
    this.svcs.clear();
    this.doms.clear();
    this.activeDoms.clear();
  }

  insertDomain(domid: DomId): void {
    if (!this.doms.has(domid)) this.doms.set(domid, { domid, weight: CSCHED_DEFAULT_WEIGHT, cap: 0, vcpus: [] });
  }

  removeDomain(domid: DomId): void {
    const d = this.doms.get(domid);
    if (d !== undefined) this.activeDoms.delete(d);
    this.doms.delete(domid);
  }

  insertVcpu(v: SchedVcpu): void {
    const dom = this.dom(v.domid);
    const now = this.host.now;
    const s: CreditVcpu = { sched: this, v, dom, credit: 0, pri: CSCHED_PRI.UNDER, active: false, parked: false, yielded: false, queuedOn: -1, burnFrom: now, schedIn: now };
    this.svcs.set(v, s);
    v.schedPriv = s;
    dom.vcpus.push(s);
  }

  removeVcpu(v: SchedVcpu): void {
    const s = this.svcs.get(v);
    if (s === undefined) return;
    this.runqRemove(s);
    this.svcs.delete(v);
    v.schedPriv = undefined;
    const i = s.dom.vcpus.indexOf(s);
    if (i >= 0) s.dom.vcpus.splice(i, 1);
    if (activeCount(s.dom) === 0) this.activeDoms.delete(s.dom);
  }

  wake(v: SchedVcpu): void {
    const s = this.svc(v);
    if (v.runningOn !== undefined || s.queuedOn >= 0 || s.parked) return;
    if (s.pri === CSCHED_PRI.UNDER) s.pri = CSCHED_PRI.BOOST;
    this.runqInsert(this.pickCpu(s), s);
    this.tickle(s);
  }

  sleep(v: SchedVcpu): void {
    const s = this.svc(v);
    if (v.runningOn === undefined) this.runqRemove(s);
  }

  yield(v: SchedVcpu): void {
    this.svc(v).yielded = true;
  }

  doSchedule(cpu: PcpuId, now: number, prev: SchedVcpu | null): SchedDecision {
    const scurr = prev === null ? null : this.svc(prev);
    if (scurr !== null) {
      this.burn(scurr, now);
      const runtime = now - scurr.schedIn;
      const keep = prev!.runnable && !scurr.parked && prev!.hardAffinity.has(cpu);
      if (keep && !scurr.yielded && this.ratelimitNs > 0 && runtime < this.ratelimitNs) {
        return { next: prev, slice: this.ratelimitNs - runtime };
      }
      if (scurr.pri === CSCHED_PRI.BOOST) scurr.pri = CSCHED_PRI.UNDER;
      if (keep) this.runqInsert(cpu, scurr);
      else if (prev!.runnable && !scurr.parked) {
        this.runqInsert(this.pickCpu(scurr), scurr);
        this.tickle(scurr);
      }
      scurr.yielded = false;
    }
    const q = this.runqs[cpu]!;
    let snext: CreditVcpu | null = q[0] ?? null;
    if (snext !== null && snext.pri > CSCHED_PRI.OVER) this.runqRemove(snext);
    else {
      const stolen = this.steal(cpu, snext?.pri ?? CSCHED_PRI.IDLE);
      if (stolen !== null) snext = stolen;
      else if (snext !== null) this.runqRemove(snext);
    }
    if (snext === null) return { next: null, slice: Infinity };
    snext.yielded = false;
    snext.burnFrom = now;
    if (snext !== scurr) snext.schedIn = now;
    snext.v.processor = cpu;
    return { next: snext.v, slice: this.tsliceNs };
  }

  affinityChanged(v: SchedVcpu): void {
    const s = this.svc(v);
    if (s.queuedOn >= 0 && !v.hardAffinity.has(s.queuedOn)) {
      this.runqRemove(s);
      this.runqInsert(this.pickCpu(s), s);
      this.tickle(s);
    }
  }

  getPoolParams(): Readonly<Record<string, number>> {
    // No migration delay is modelled: a vCPU may move at its next wake-up.
    return { tslice_ms: this.tsliceNs / NS_PER_MS, ratelimit_us: this.ratelimitNs / 1000, migration_delay_us: 0 };
  }

  getDomainParams(domid: DomId): SchedDomainParams {
    const d = this.dom(domid);
    return { weight: d.weight, cap: d.cap };
  }

  setDomainParams(domid: DomId, params: SchedDomainParams): void {
    const d = this.dom(domid);
    for (const [key, value] of Object.entries(params)) {
      if (key !== 'weight' && key !== 'cap') throw new GuestError('EINVAL', `credit: unknown parameter "${key}" (known: weight, cap)`, { domid });
      if (!Number.isInteger(value)) throw new GuestError('EINVAL', `credit: ${key} must be an integer, got ${value}`, { domid });
      if (key === 'weight' && (value < 1 || value > 65535)) throw new GuestError('EINVAL', `credit: weight must be 1..65535, got ${value}`, { domid });
      if (key === 'cap' && (value < 0 || value > 65535)) throw new GuestError('EINVAL', `credit: cap must be 0..65535 (percent of one pCPU), got ${value}`, { domid });
    }
    if (params.weight !== undefined) d.weight = params.weight;
    if (params.cap !== undefined) {
      d.cap = params.cap;
      if (d.cap === 0) for (const s of d.vcpus) if (s.parked) this.unpark(s);
    }
  }

  dump(): string {
    const lines = [`credit: tslice ${this.tsliceNs / NS_PER_MS} ms, ratelimit ${this.ratelimitNs / 1000} µs, credits/tslice ${this.creditsPerTslice}`];
    for (const d of [...this.doms.values()].sort((a, b) => a.domid - b.domid)) {
      lines.push(`  dom${d.domid}: weight ${d.weight} cap ${d.cap}`);
      for (const s of d.vcpus) {
        const flags = [s.active ? 'active' : '', s.parked ? 'parked' : '', s.queuedOn >= 0 ? `queued cpu${s.queuedOn}` : ''].filter(Boolean).join(' ');
        lines.push(`    vcpu${s.v.vcpuId}: pri ${PRI_NAME[s.pri]} credit ${s.credit.toFixed(1)} ${flags}`);
      }
    }
    this.runqs.forEach((q, cpu) => lines.push(`  runq cpu${cpu}: ${q.map((s) => `d${s.v.domid}v${s.v.vcpuId}`).join(' ') || '-'}`));
    return lines.join('\n');
  }
}

/** A credit scheduler factory for the registry. */
export function createCreditScheduler(options: CreditOptions): CreditScheduler {
  return new CreditScheduler(options);
}
