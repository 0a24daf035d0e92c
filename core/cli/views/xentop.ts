/**
 * `xentop -b [-i N] [-d delay] [-f] [-z]`: batch mode, one table per iteration (tools/xentop/xentop.c).
 * A sample is a JSON-able snapshot of libxenstat's node at one virtual time; CPU(%) of an iteration
 * is the CPU time gained since the previous sample over the virtual time between them.
 */
import { PAGE_SIZE } from '../../public/memory.js';
import { XEN_EXTRAVERSION, XEN_MAJOR, XEN_MINOR } from '../../public/xen.js';
import type { Host } from '../../host/host.js';
import { domainCpuNs, domainFlags, right, type DomainFlags } from './common.js';

/** One domain as libxenstat reports it. */
export interface XentopDomain {
  domid: number;
  name: string;
  flags: DomainFlags;
  cpuNs: number;
  /** tot_pages × page size. */
  curMemBytes: number;
  /** max_pages × page size. */
  maxMemBytes: number;
  /** max_vcpu_id + 1. */
  vcpus: number;
  /** Split-driver devices: none until netback/blkback exist. */
  nets: number;
  netTxBytes: number;
  netRxBytes: number;
  vbds: number;
  vbdOo: number;
  vbdRd: number;
  vbdWr: number;
  vbdRsect: number;
  vbdWsect: number;
  ssid: number;
}

/** xenstat_node at one virtual time. */
export interface XentopSample {
  timeNs: number;
  totMemBytes: number;
  freeMemBytes: number;
  numCpus: number;
  cpuHz: number;
  xenVersion: string;
  domains: XentopDomain[];
}

export interface XentopOptions {
  /** `-f`: names in full (the column widens to the longest). */
  fullName?: boolean;
  /** `-z`: Domain-0 first, the rest sorted. */
  dom0First?: boolean;
}

/** Samples the host now. */
export function xentopSample(host: Host): XentopSample {
  return {
    timeNs: host.engine.now,
    totMemBytes: host.memory.totalFrames * PAGE_SIZE,
    freeMemBytes: host.memory.freeFrames * PAGE_SIZE,
    numCpus: host.definition.cpus.count,
    cpuHz: host.definition.cpus.mhz * 1e6,
    xenVersion: `${XEN_MAJOR}.${XEN_MINOR}${XEN_EXTRAVERSION}`,
    domains: host.domains.list().map((d) => ({
      domid: d.domid,
      name: d.name,
      flags: domainFlags(d),
      cpuNs: domainCpuNs(d),
      curMemBytes: d.totPages * PAGE_SIZE,
      maxMemBytes: d.maxPages * PAGE_SIZE,
      vcpus: d.vcpus.length,
      nets: 0,
      netTxBytes: 0,
      netRxBytes: 0,
      vbds: 0,
      vbdOo: 0,
      vbdRd: 0,
      vbdWr: 0,
      vbdRsect: 0,
      vbdWsect: 0,
      ssid: 0,
    })),
  };
}

const SHUTDOWN_CRASH = 3;

/** xentop's state column: d s b c p r, each its letter or '-' (a crashed domain is also shut down). */
export function xentopState(f: DomainFlags): string {
  const crashed = f.shutdown && f.shutdownReason === SHUTDOWN_CRASH;
  return `${f.dying ? 'd' : '-'}${f.shutdown ? 's' : '-'}${f.blocked ? 'b' : '-'}${crashed ? 'c' : '-'}${f.paused ? 'p' : '-'}${f.running ? 'r' : '-'}`;
}

/** Digits of n, as xentop's INT_FIELD_WIDTH(n) = log10(n) + 1. */
function intFieldWidth(n: number): number {
  return Math.floor(Math.log10(n) + 1);
}

/** Column widths, adjusted to the numbers as xentop's adjust_field_widths does. */
function widths(domains: readonly XentopDomain[], fullName: boolean) {
  const w = { name: 10, netTx: 8, netRx: 8, vbdRd: 8, vbdWr: 8, vbdRsect: 10, vbdWsect: 10 };
  for (const d of domains) {
    if (fullName) w.name = Math.max(w.name, d.name.length);
    w.netTx = Math.max(w.netTx, intFieldWidth(Math.floor(d.netTxBytes / 1024) + 1));
    w.netRx = Math.max(w.netRx, intFieldWidth(Math.floor(d.netRxBytes / 1024) + 1));
    w.vbdRd = Math.max(w.vbdRd, intFieldWidth(d.vbdRd + 1));
    w.vbdWr = Math.max(w.vbdWr, intFieldWidth(d.vbdWr + 1));
    w.vbdRsect = Math.max(w.vbdRsect, intFieldWidth(d.vbdRsect + 1));
    w.vbdWsect = Math.max(w.vbdWsect, intFieldWidth(d.vbdWsect + 1));
  }
  return w;
}

/** CPU(%) of `d` against its previous sample: 0 without one, as xentop's first iteration. */
function cpuPct(d: XentopDomain, cur: XentopSample, prev: XentopSample | undefined): number {
  const old = prev?.domains.find((x) => x.domid === d.domid);
  if (prev === undefined || old === undefined) return 0;
  const usElapsed = (cur.timeNs - prev.timeNs) / 1000;
  return (d.cpuNs - old.cpuNs) / 10 / usElapsed;
}

/** One iteration: the header and a row per domain, sorted by name (xentop's default sort field), case-insensitively. */
export function renderXentopFrame(cur: XentopSample, prev?: XentopSample, options: XentopOptions = {}): string {
  const fullName = options.fullName === true;
  const byName = (a: XentopDomain, b: XentopDomain) => {
    const x = a.name.toLowerCase();
    const y = b.name.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  };
  let domains = [...cur.domains];
  const dom0 = domains.findIndex((d) => d.name === 'Domain-0');
  if (options.dom0First && dom0 >= 0) {
    const [first] = domains.splice(dom0, 1);
    domains = [first!, ...domains.sort(byName)];
  } else domains.sort(byName);
  const w = widths(domains, fullName);
  const header = [
    right('NAME', w.name),
    right('STATE', 6),
    right('CPU(sec)', 10),
    right('CPU(%)', 6),
    right('MEM(k)', 10),
    right('MEM(%)', 6),
    right('MAXMEM(k)', 10),
    right('MAXMEM(%)', 9),
    right('VCPUS', 5),
    right('NETS', 4),
    right('NETTX(k)', w.netTx),
    right('NETRX(k)', w.netRx),
    right('VBDS', 4),
    right('VBD_OO', 8),
    right('VBD_RD', w.vbdRd),
    right('VBD_WR', w.vbdWr),
    right('VBD_RSECT', w.vbdRsect),
    right('VBD_WSECT', w.vbdWsect),
    right('SSID', 4),
  ].join(' ');
  const noLimit = (bytes: number) => bytes >= Number.MAX_SAFE_INTEGER;
  const rows = domains.map((d) => {
    return [
      fullName ? right(d.name, w.name) : right(d.name.slice(0, 10), 10),
      xentopState(d.flags),
      right(Math.floor(d.cpuNs / 1e9), 10),
      right(cpuPct(d, cur, prev).toFixed(1), 6),
      right(Math.floor(d.curMemBytes / 1024), 10),
      right(((d.curMemBytes / cur.totMemBytes) * 100).toFixed(1), 6),
      noLimit(d.maxMemBytes) ? right('no limit', 10) : right(Math.floor(d.maxMemBytes / 1024), 10),
      noLimit(d.maxMemBytes) ? right('n/a', 9) : right(((d.maxMemBytes / cur.totMemBytes) * 100).toFixed(1), 9),
      right(d.vcpus, 5),
      right(d.nets, 4),
      right(Math.floor(d.netTxBytes / 1024), w.netTx),
      right(Math.floor(d.netRxBytes / 1024), w.netRx),
      right(d.vbds, 4),
      right(d.vbdOo, 8),
      right(d.vbdRd, w.vbdRd),
      right(d.vbdWr, w.vbdWr),
      right(d.vbdRsect, w.vbdRsect),
      right(d.vbdWsect, w.vbdWsect),
      right(d.ssid, 4),
    ].join(' ');
  });
  return [header, ...rows].map((l) => `${l}\n`).join('');
}

/** `xentop -b -i N`: the frames of consecutive samples, each CPU(%) against the sample before it. */
export function renderXentopBatch(samples: readonly XentopSample[], options: XentopOptions = {}): string {
  return samples.map((s, i) => renderXentopFrame(s, i > 0 ? samples[i - 1] : undefined, options)).join('');
}
