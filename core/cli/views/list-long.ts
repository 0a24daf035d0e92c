/**
 * `xl list -l [domain]`: each domain's configuration as libxl's JSON (xl_info.c, list_domains_details),
 * in the layout yajl's beautifier gives it. A faithful subset of `libxl_domain_config`, fields in
 * libxl_types.idl order, defaults left out as libxl leaves them out.
 */
import type { Domain } from '../../api/domain.js';
import type { DomainAction, ToolstackDomain } from '../../api/toolstack.js';
import type { Host } from '../../host/host.js';
import { findDomain, pagesToKiB, XlError } from './common.js';

/** A JSON value whose object keys keep their insertion order. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface XlListLongEntry {
  domid: number;
  config: { [key: string]: JsonValue };
}

export interface XlListLongSnapshot {
  domains: XlListLongEntry[];
}

/** libxl_action_on_shutdown's JSON names. */
const ACTION_NAMES: Readonly<Record<DomainAction, string>> = {
  destroy: 'destroy',
  restart: 'restart',
  'rename-restart': 'restart_rename',
  preserve: 'preserve',
  'coredump-destroy': 'coredump_destroy',
  'coredump-restart': 'coredump_restart',
  'soft-reset': 'soft_reset',
};

function typeOf(d: Domain): string {
  return d.mode === 'pv' ? 'pv' : d.mode === 'pvh' ? 'pvh' : 'hvm';
}

/** What the toolstack built the domain from, with the live vCPU and memory figures libxl folds back in. */
function configFromToolstack(d: Domain, t: ToolstackDomain): { [key: string]: JsonValue } {
  const c = t.config;
  const bInfo: { [key: string]: JsonValue } = {
    max_vcpus: d.vcpus.length,
    avail_vcpus: d.vcpus.filter((v) => v.isUp).map((v) => v.vcpuId),
    max_memkb: t.maxKiB,
    target_memkb: t.targetKiB,
  };
  if (c.maxGrantFrames !== undefined) bInfo.max_grant_frames = c.maxGrantFrames;
  if (c.maxMaptrackFrames !== undefined) bInfo.max_maptrack_frames = c.maxMaptrackFrames;
  bInfo.sched_params = {};
  if (c.maxEventChannels !== undefined) bInfo.event_channels = c.maxEventChannels;
  if (c.kernel !== undefined) bInfo.kernel = c.kernel;
  if (c.cmdline !== undefined) bInfo.cmdline = c.cmdline;
  if (c.ramdisk !== undefined) bInfo.ramdisk = c.ramdisk;
  bInfo[`type.${t.type}`] = {};
  return {
    c_info: { type: t.type, name: d.name, uuid: t.uuid },
    b_info: bInfo,
    on_poweroff: ACTION_NAMES[c.onPoweroff],
    on_reboot: ACTION_NAMES[c.onReboot],
    on_watchdog: ACTION_NAMES[c.onWatchdog],
    on_crash: ACTION_NAMES[c.onCrash],
    on_soft_reset: ACTION_NAMES[c.onSoftReset],
  };
}

/** A domain no toolstack built (Dom0, or a bare core guest): what libxl can make up from the domain itself. */
function minimalConfig(d: Domain): { [key: string]: JsonValue } {
  const type = typeOf(d);
  return {
    c_info: { type, name: d.name },
    b_info: { max_memkb: pagesToKiB(d.maxPages), target_memkb: pagesToKiB(d.totPages), sched_params: {}, [`type.${type}`]: {} },
  };
}

/** Every domain, or those `qualifiers` name; errors as `xl list` gives them. */
export function xlListLongView(host: Host, qualifiers: readonly string[] = []): XlListLongSnapshot {
  const toolstack = host.toolstack;
  const domains =
    qualifiers.length === 0
      ? host.domains.list()
      : qualifiers.map((q) => {
          const d = host.domains.get(findDomain(host, q));
          if (d === undefined) throw new XlError(`Error: Domain '${q}' does not exist.`);
          return d;
        });
  return {
    domains: domains.map((d) => {
      const t = toolstack?.get(d.domid);
      return { domid: d.domid, config: t !== undefined ? configFromToolstack(d, t) : minimalConfig(d) };
    }),
  };
}

const INDENT = '    ';

/** yajl's string escaping: quote, backslash, the named control escapes, other controls as `\u00XX`. */
function yajlString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20) out += `\\u00${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * yajl_gen with `yajl_gen_beautify`: four-space indents, `"key": value`, and containers that always
 * open and close on their own lines (an empty one keeps a blank line between its brackets).
 */
export function yajlBeautify(value: JsonValue, depth = 0): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return String(Math.trunc(value));
  if (typeof value === 'string') return yajlString(value);
  const inner = INDENT.repeat(depth + 1);
  const items = Array.isArray(value)
    ? value.map((v) => inner + yajlBeautify(v, depth + 1))
    : Object.entries(value).map(([k, v]) => `${inner}${yajlString(k)}: ${yajlBeautify(v, depth + 1)}`);
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  return `${open}\n${items.join(',\n')}\n${INDENT.repeat(depth)}${close}`;
}

/** The JSON array of `{domid, config}`; yajl ends the document with a newline and xl's `puts` adds one. */
export function renderXlListLong(s: XlListLongSnapshot): string {
  return `${yajlBeautify(s.domains.map((d) => ({ domid: d.domid, config: d.config })))}\n\n`;
}
