/** What every xl view shares: libxl's dominfo flags, xl's domain qualifiers, print_bitmap, C number formats, the xl error. */
import { XenoError } from '../../api/errors.js';
import { SHUTDOWN, type Domain } from '../../api/domain.js';
import type { Host } from '../../host/host.js';

/** An xl command failed: `message` is exactly what xl writes to stderr (without the newline). */
export class XlError extends XenoError {
  constructor(detail: string) {
    super('xl', detail);
  }
}

/** libxl's `ERROR_INVAL`, the rc `find_domain` reports for an unknown name. */
export const LIBXL_ERROR_INVAL = -6;

/** The state bits of `libxl_dominfo` (Xen's `XEN_DOMINF_*`), as xl list and xentop read them. */
export interface DomainFlags {
  running: boolean;
  blocked: boolean;
  paused: boolean;
  shutdown: boolean;
  /** `SHUTDOWN_*` code; meaningful only while `shutdown`. */
  shutdownReason: number;
  dying: boolean;
}

/** The flags of a live domain: one per condition of its state, the shutdown code while shut down. */
export function domainFlags(d: Domain): DomainFlags {
  const s = d.state;
  const shutdown = s === 'shutdown';
  return {
    running: s === 'running',
    blocked: s === 'blocked',
    paused: s === 'paused',
    shutdown,
    shutdownReason: shutdown && d.shutdownReason !== undefined ? SHUTDOWN[d.shutdownReason] : 0,
    dying: s === 'dying' || s === 'dead',
  };
}

/** Nanoseconds a domain's vCPUs have spent running (`cpu_time`, an integer as Xen keeps it). */
export function domainCpuNs(d: Domain): number {
  return Math.floor(d.vcpus.reduce((sum, v) => sum + v.runstateInfo().time.running, 0));
}

/** KiB in `pages` 4 KiB pages (libxl's PAGE_TO_MEMKB). */
export function pagesToKiB(pages: number): number {
  return pages * 4;
}

/**
 * `find_domain()`: a qualifier of digits only is a domid as it stands (libxl_domain_qualifier_to_domid
 * does not check it exists); anything else must be a domain's exact name.
 */
export function findDomain(host: Host, qualifier: string): number {
  if (/^\d*$/.test(qualifier)) return Number(qualifier || '0') >>> 0;
  const d = host.domains.list().find((x) => x.name === qualifier);
  if (d === undefined) throw new XlError(`${qualifier} is an invalid domain identifier (rc=${LIBXL_ERROR_INVAL})`);
  return d.domid;
}

/** Seconds of `ns` as xl prints `(float)ns / 1e9` with `%.1f`: the value goes through a C float first. */
export function cSeconds1(ns: number): string {
  return (Math.fround(ns) / 1e9).toFixed(1);
}

/** `%-Ns`. */
export function left(text: string | number, width: number): string {
  return String(text).padEnd(width);
}

/** `%Nd` / `%Ns`. */
export function right(text: string | number, width: number): string {
  return String(text).padStart(width);
}

/**
 * xl's `print_bitmap(map, maplen)`: runs of set CPUs below `maplen` as `0-3,6`; `all` when every CPU
 * is set, `none` when none is. (xl's quirk is kept: a map set from 0 to the end prints `all` only
 * when it is one run.)
 */
export function printBitmap(cpus: readonly number[], maplen: number): string {
  const set = new Set(cpus);
  let out = '';
  let state = 0;
  let firstset = 0;
  let i = 0;
  for (; i < maplen; i++) {
    const bit = set.has(i);
    if (state === 0 || state === 2) {
      if (bit) {
        firstset = i;
        state++;
      }
    } else if (!bit) {
      out += `${state > 1 ? ',' : ''}${firstset}`;
      if (i - 1 > firstset) out += `-${i - 1}`;
      state = 2;
    }
  }
  if (state === 0) return 'none';
  if (state === 1 && firstset === 0) return 'all';
  if (state === 1 || state === 3) {
    out += `${state > 1 ? ',' : ''}${firstset}`;
    if (i - 1 > firstset) out += `-${i - 1}`;
  }
  return out;
}
