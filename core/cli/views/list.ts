/** `xl list [domain]`: one row per domain in xl's columns (tools/xl/xl_info.c, list_domains). */
import type { Domain } from '../../api/domain.js';
import type { Host } from '../../host/host.js';
import { cSeconds1, domainCpuNs, domainFlags, findDomain, left, pagesToKiB, right, XlError, type DomainFlags } from './common.js';

/** One domain as `libxl_dominfo` describes it, as far as `xl list` prints it. */
export interface XlListRow {
  name: string;
  domid: number;
  /** `current_memkb` (+ `outstanding_memkb`, always 0 here). */
  memKiB: number;
  vcpusOnline: number;
  flags: DomainFlags;
  cpuTimeNs: number;
}

export interface XlListSnapshot {
  domains: XlListRow[];
}

/** `xl list`'s header line (tab-separated at the end, as xl prints it). */
export const XL_LIST_HEADER = 'Name                                        ID   Mem VCPUs\tState\tTime(s)';

/** xl's shutdown-reason letters, indexed by SHUTDOWN_* code (poweroff shows as '-'). */
const SHUTDOWN_REASON_LETTERS = '-rscwS';

/** A domain's row. */
export function xlListRow(d: Domain): XlListRow {
  return {
    name: d.name,
    domid: d.domid,
    memKiB: pagesToKiB(d.totPages),
    vcpusOnline: d.vcpus.filter((v) => v.isUp).length,
    flags: domainFlags(d),
    cpuTimeNs: domainCpuNs(d),
  };
}

/**
 * Every domain, or the ones `qualifiers` name (names or ids, in the order given). An unknown name is
 * xl's `<name> is an invalid domain identifier (rc=-6)`; an unknown id `Error: Domain '<id>' does not exist.`
 */
export function xlListView(host: Host, qualifiers: readonly string[] = []): XlListSnapshot {
  if (qualifiers.length === 0) return { domains: host.domains.list().map(xlListRow) };
  return {
    domains: qualifiers.map((q) => {
      const d = host.domains.get(findDomain(host, q));
      if (d === undefined) throw new XlError(`Error: Domain '${q}' does not exist.`);
      return xlListRow(d);
    }),
  };
}

/**
 * The six state letters: running, blocked, paused, shutdown, the shutdown reason (r reboot, s suspend,
 * c crash, w watchdog, S soft reset, '?' unknown), dying.
 */
export function xlStateLetters(f: DomainFlags): string {
  const reason = f.shutdown ? f.shutdownReason : 0;
  const letter = reason >= 0 && reason < SHUTDOWN_REASON_LETTERS.length ? SHUTDOWN_REASON_LETTERS[reason] : '?';
  return `${f.running ? 'r' : '-'}${f.blocked ? 'b' : '-'}${f.paused ? 'p' : '-'}${f.shutdown ? 's' : '-'}${letter}${f.dying ? 'd' : '-'}`;
}

/** `%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f` per domain under the header. */
export function renderXlList(s: XlListSnapshot): string {
  const rows = s.domains.map(
    (d) =>
      `${left(d.name, 40)} ${right(d.domid, 5)} ${right(Math.floor(d.memKiB / 1024), 5)} ${right(d.vcpusOnline, 5)}     ${xlStateLetters(d.flags)}  ${right(cSeconds1(d.cpuTimeNs), 8)}`,
  );
  return [XL_LIST_HEADER, ...rows].join('\n') + '\n';
}
