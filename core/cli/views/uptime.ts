/** `xl uptime [-s] [domain...]`: how long each domain has run, in virtual time (tools/xl/xl_info.c, print_uptime). */
import type { Host } from '../../host/host.js';
import { findDomain, left, right } from './common.js';

/** One domain and when it started (Dom0: host boot, at virtual time 0). */
export interface XlUptimeRow {
  name: string;
  domid: number;
  startNs: number;
}

export interface XlUptimeSnapshot {
  /** Virtual time of the snapshot, ns (xl's `time(NULL)`). */
  nowNs: number;
  domains: XlUptimeRow[];
}

/**
 * Dom0 then every domain the toolstack started, or the domains `qualifiers` name. As in xl, a domain
 * without a start time (no toolstack record: `vm/<uuid>/start_time` is missing) is left out.
 */
export function xlUptimeView(host: Host, qualifiers: readonly string[] = []): XlUptimeSnapshot {
  const toolstack = host.toolstack;
  const dom0 = host.domains.get(0);
  const row = (domid: number): XlUptimeRow[] => {
    if (domid === 0) return dom0 ? [{ name: dom0.name, domid: 0, startNs: 0 }] : [];
    const t = toolstack?.get(domid);
    const d = host.domains.get(domid);
    return t && d ? [{ name: d.name, domid, startNs: t.startTime }] : [];
  };
  const ids = qualifiers.length === 0 ? [0, ...host.domains.list().map((d) => d.domid).filter((id) => id !== 0)] : qualifiers.map((q) => findDomain(host, q));
  return { nowNs: host.engine.now, domains: ids.flatMap(row) };
}

/** xl's uptime_to_string: `[D day(s), ]H:MM:SS` (short mode `[D day(s), ]H:MM`), hours in two columns. */
export function uptimeToString(seconds: number, short = false): string {
  const day = Math.floor(seconds / 86400);
  let rest = seconds - day * 86400;
  const hour = Math.floor(rest / 3600);
  rest -= hour * 3600;
  const min = Math.floor(rest / 60);
  const sec = rest - min * 60;
  const hm = `${right(hour, 2)}:${String(min).padStart(2, '0')}`;
  const clock = short ? hm : `${hm}:${String(sec).padStart(2, '0')}`;
  if (day > 1) return `${day} days, ${clock}`;
  if (day === 1) return `${day} day, ${clock}`;
  return clock;
}

/** Whole seconds up, as xl counts them: whole seconds now minus the whole seconds of the start time. */
export function uptimeSeconds(nowNs: number, startNs: number): number {
  return Math.floor(nowNs / 1e9) - Math.floor(startNs / 1e9);
}

/** The virtual time of day, `HH:MM:SS` from boot (short mode's `now`; the simulation has no wall clock). */
function timeOfDay(ns: number): string {
  const s = Math.floor(ns / 1e9) % 86400;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(Math.floor(s / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
}

/** `%-33s %4s %s` header, `%-33s %4d %s` rows; with `short`, ` HH:MM:SS up <uptime>, <name> (<id>)` lines. */
export function renderXlUptime(s: XlUptimeSnapshot, options: { short?: boolean } = {}): string {
  const short = options.short === true;
  const lines = s.domains.map((d) => {
    const up = uptimeSeconds(s.nowNs, d.startNs);
    return short ? ` ${timeOfDay(s.nowNs)} up ${uptimeToString(up, true)}, ${d.name} (${d.domid})` : `${left(d.name, 33)} ${right(d.domid, 4)} ${uptimeToString(up)}`;
  });
  if (!short) lines.unshift(`${left('Name', 33)} ${right('ID', 4)} Uptime`);
  return lines.map((l) => `${l}\n`).join('');
}
