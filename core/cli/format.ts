/** Text layouts shared by commands: xl's `key : value` info block, xl's domain list, plain tables. */
import type { Domain } from '../api/domain.js';
import { domainFlags } from './views/common.js';
import { renderXlList, xlListRow, xlStateLetters, XL_LIST_HEADER } from './views/list.js';

/** `xl info` layout: the key left-justified in 23 columns, then `: value`. */
export function formatInfo(rows: readonly (readonly [string, string | number])[]): string {
  return rows.map(([k, v]) => `${k.padEnd(23)}: ${v}`).join('\n') + '\n';
}

/**
 * The six state letters of `xl list`: running, blocked, paused, shutdown, the shutdown reason
 * (r reboot, s suspend, c crash, w watchdog, S soft reset), dying.
 */
export function stateLetters(d: Domain): string {
  return xlStateLetters(domainFlags(d));
}

/** Seconds of CPU a domain's vCPUs have run. */
export function cpuSeconds(d: Domain): number {
  return d.vcpus.reduce((sum, v) => sum + v.runstateInfo().time.running, 0) / 1e9;
}

export { XL_LIST_HEADER };

/** `xl list` of these domains: the header and one row per domain (see views/list.ts). */
export function formatDomainList(domains: readonly Domain[]): string {
  return renderXlList({ domains: domains.map(xlListRow) });
}

/** A plain table: columns padded to their widest cell, two spaces apart. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
