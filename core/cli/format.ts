/** Text layouts shared by commands: xl's `key : value` info block, xl's domain list, plain tables. */
import { SHUTDOWN, type Domain } from '../api/domain.js';
import { PAGE_SIZE } from '../public/memory.js';

/** `xl info` layout: the key left-justified in 23 columns, then `: value`. */
export function formatInfo(rows: readonly (readonly [string, string | number])[]): string {
  return rows.map(([k, v]) => `${k.padEnd(23)}: ${v}`).join('\n') + '\n';
}

/** xl's shutdown-reason letters, indexed by SHUTDOWN_* code (poweroff shows as '-'). */
const SHUTDOWN_REASON_LETTERS = '-rscwS';

/**
 * The six state letters of `xl list`: running, blocked, paused, shutdown, the shutdown reason
 * (r reboot, s suspend, c crash, w watchdog, S soft reset), dying.
 */
export function stateLetters(d: Domain): string {
  const s = d.state;
  const shutdown = s === 'shutdown';
  const reason = shutdown && d.shutdownReason !== undefined ? SHUTDOWN_REASON_LETTERS[SHUTDOWN[d.shutdownReason]] ?? '?' : '-';
  return `${s === 'running' ? 'r' : '-'}${s === 'blocked' ? 'b' : '-'}${s === 'paused' ? 'p' : '-'}${shutdown ? 's' : '-'}${reason}${s === 'dying' || s === 'dead' ? 'd' : '-'}`;
}

/** Seconds of CPU a domain's vCPUs have run. */
export function cpuSeconds(d: Domain): number {
  return d.vcpus.reduce((sum, v) => sum + v.runstateInfo().time.running, 0) / 1e9;
}

/** `xl list`'s header line (tab-separated at the end, as xl prints it). */
export const XL_LIST_HEADER = 'Name                                        ID   Mem VCPUs\tState\tTime(s)';

/** `xl list`: the header and one row per domain, in xl's `%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f` layout. */
export function formatDomainList(domains: readonly Domain[]): string {
  const rows = domains.map((d) => {
    const memMiB = Math.floor((d.totPages * PAGE_SIZE) / 2 ** 20);
    const online = d.vcpus.filter((v) => v.isUp).length;
    return `${d.name.padEnd(40)} ${String(d.domid).padStart(5)} ${String(memMiB).padStart(5)} ${String(online).padStart(5)}     ${stateLetters(d)}  ${cpuSeconds(d).toFixed(1).padStart(8)}`;
  });
  return [XL_LIST_HEADER, ...rows].join('\n') + '\n';
}

/** A plain table: columns padded to their widest cell, two spaces apart. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
