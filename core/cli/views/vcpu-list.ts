/** `xl vcpu-list [domain...]`: every vCPU's pCPU, state, CPU time and affinity (tools/xl/xl_vcpu.c). */
import type { Host } from '../../host/host.js';
import { cSeconds1, findDomain, left, printBitmap, right } from './common.js';

/** One vCPU as `libxl_vcpuinfo` gives it. */
export interface XlVcpuRow {
  name: string;
  domid: number;
  vcpu: number;
  online: boolean;
  /** The pCPU whose runqueue holds it. */
  cpu: number;
  running: boolean;
  blocked: boolean;
  timeNs: number;
  hardAffinity: number[];
  softAffinity: number[];
}

export interface XlVcpuListSnapshot {
  /** physinfo.nr_cpus: how far the affinity bitmaps are printed. */
  nrCpus: number;
  vcpus: XlVcpuRow[];
}

/** `%-32s %5s %5s %5s %5s %9s %s` of the column names. */
export const XL_VCPU_LIST_HEADER = `${left('Name', 32)} ${right('ID', 5)} ${right('VCPU', 5)} ${right('CPU', 5)} ${right('State', 5)} ${right('Time(s)', 9)} Affinity (Hard / Soft)`;

/**
 * The vCPUs of every domain, or of the domains `qualifiers` name (each in turn, as xl does; an id that
 * names no domain lists nothing). There is no soft affinity in the simulation: every pCPU.
 */
export function xlVcpuListView(host: Host, qualifiers: readonly string[] = []): XlVcpuListSnapshot {
  const nrCpus = host.definition.cpus.count;
  const domains = qualifiers.length === 0 ? host.domains.list() : qualifiers.flatMap((q) => host.domains.get(findDomain(host, q)) ?? []);
  const all = Array.from({ length: nrCpus }, (_, i) => i);
  return {
    nrCpus,
    vcpus: domains.flatMap((d) =>
      d.vcpus.map((v) => ({
        name: d.name,
        domid: d.domid,
        vcpu: v.vcpuId,
        online: v.isUp,
        cpu: v.processor,
        running: v.runstate === 'running',
        blocked: v.runstate === 'blocked',
        timeNs: Math.floor(v.runstateInfo().time.running),
        hardAffinity: [...v.hardAffinity.toArray()],
        softAffinity: all,
      })),
    ),
  };
}

/** `%-32s %5u %5u` then `%5u %3c%c- ` (offline: `%5c %3c%cp `), `%9.1f  `, hard ` / ` soft. */
export function renderXlVcpuList(s: XlVcpuListSnapshot): string {
  const rows = s.vcpus.map((v) => {
    const head = `${left(v.name, 32)} ${right(v.domid, 5)} ${right(v.vcpu, 5)}`;
    const cpuState = v.online ? `${right(v.cpu, 5)} ${right(v.running ? 'r' : '-', 3)}${v.blocked ? 'b' : '-'}- ` : `${right('-', 5)} ${right('-', 3)}-p `;
    return `${head}${cpuState}${right(cSeconds1(v.timeNs), 9)}  ${printBitmap(v.hardAffinity, s.nrCpus)} / ${printBitmap(v.softAffinity, s.nrCpus)}`;
  });
  return [XL_VCPU_LIST_HEADER, ...rows].join('\n') + '\n';
}
