/** `xl sched-credit [-d domain]`: each credit pool's parameters and its domains' weight and cap (tools/xl/xl_sched.c). */
import type { Host } from '../../host/host.js';
import { findDomain, left, right } from './common.js';

/** libxl_sched_credit_params. */
export interface CreditPoolParams {
  tsliceMs: number;
  ratelimitUs: number;
  migrationDelayUs: number;
}

export interface XlSchedCreditDomain {
  name: string;
  domid: number;
  weight: number;
  cap: number;
}

export interface XlSchedCreditPool {
  name: string;
  /** Absent when the scheduler does not report them: xl prints `[sched params unavailable]`. */
  params?: CreditPoolParams;
  domains: XlSchedCreditDomain[];
}

export interface XlSchedCreditSnapshot {
  /** Pools run by the credit scheduler (none when the host runs another). */
  pools: XlSchedCreditPool[];
  /** With `-d`: only that domain's row, under the column header and no pool line. */
  domainOnly?: boolean;
}

/** The name of the host's one pool. */
export const POOL0 = 'Pool-0';

/**
 * The credit scheduler's view of Pool-0: per-domain weight and cap from the scheduler itself
 * (`getDomainParams`). Pool-wide parameters (tslice, ratelimit, migration delay) are not reachable
 * through the core's SchedulerOps, so they are reported unavailable, as xl does when the sysctl fails.
 * A domain the scheduler does not know (being destroyed) is left out.
 */
export function xlSchedCreditView(host: Host, options: { domain?: string } = {}): XlSchedCreditSnapshot {
  const pool = host.pool;
  if (pool.scheduler.optName !== 'credit') return { pools: [] };
  const row = (domid: number): XlSchedCreditDomain[] => {
    const d = host.domains.get(domid);
    if (d === undefined) return [];
    try {
      const p = pool.getDomainParams(d.domid);
      return [{ name: d.name, domid: d.domid, weight: p.weight ?? 0, cap: p.cap ?? 0 }];
    } catch {
      return [];
    }
  };
  const raw = pool.scheduler.getPoolParams?.();
  const params = raw ? { params: { tsliceMs: raw.tslice_ms ?? 0, ratelimitUs: raw.ratelimit_us ?? 0, migrationDelayUs: raw.migration_delay_us ?? 0 } } : {};
  if (options.domain !== undefined) return { pools: [{ name: POOL0, domains: row(findDomain(host, options.domain)), ...params }], domainOnly: true };
  return { pools: [{ name: POOL0, domains: host.domains.list().flatMap((d) => row(d.domid)), ...params }] };
}

/** `%-33s %4s %6s %4s` of the column names. */
export const XL_SCHED_CREDIT_HEADER = `${left('Name', 33)} ${right('ID', 4)} ${right('Weight', 6)} ${right('Cap', 4)}`;

/** Per pool `Cpupool <name>: tslice=…ms ratelimit=…us migration-delay=…us`, the header, `%-33s %4d %6d %4d` rows. */
export function renderXlSchedCredit(s: XlSchedCreditSnapshot): string {
  const lines: string[] = [];
  for (const pool of s.pools) {
    if (!s.domainOnly) {
      const p = pool.params;
      lines.push(p ? `Cpupool ${pool.name}: tslice=${p.tsliceMs}ms ratelimit=${p.ratelimitUs}us migration-delay=${p.migrationDelayUs}us` : `Cpupool ${pool.name}: [sched params unavailable]`);
    }
    lines.push(XL_SCHED_CREDIT_HEADER);
    for (const d of pool.domains) lines.push(`${left(d.name, 33)} ${right(d.domid, 4)} ${right(d.weight, 6)} ${right(d.cap, 4)}`);
  }
  return lines.map((l) => `${l}\n`).join('');
}
