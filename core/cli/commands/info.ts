/** `xeno info`: host facts in `xl info`'s layout. */
import { CORE_API_VERSION } from '../../api/plugin.js';
import { PAGE_SIZE } from '../../public/memory.js';
import { XEN_EXTRAVERSION, XEN_MAJOR, XEN_MINOR } from '../../public/xen.js';
import type { Host } from '../../host/host.js';
import { formatInfo } from '../format.js';

const MiB = 2 ** 20;

/** The rows of `xl info` this host can answer, in xl's order. */
export function hostInfoRows(host: Host): [string, string | number][] {
  const def = host.definition;
  const frames = host.memory.totalFrames;
  const free = host.memory.freeFrames;
  const caps = ['xen-3.0-x86_64', 'hvm-3.0-x86_32', 'hvm-3.0-x86_32p', 'hvm-3.0-x86_64'].join(' ');
  return [
    ['host', def.name],
    ['release', `xenoserver-${CORE_API_VERSION}`],
    ['version', `#1 seed ${host.engine.rng.seed}`],
    ['machine', 'x86_64'],
    ['nr_cpus', def.cpus.count],
    ['max_cpu_id', def.cpus.count - 1],
    ['nr_nodes', 1],
    ['cores_per_socket', def.cpus.count],
    ['threads_per_core', 1],
    ['cpu_mhz', def.cpus.mhz.toFixed(3)],
    ['virt_caps', 'pv hvm hap shadow iommu_hap_pt_share gnttab-v1'],
    ['total_memory', Math.floor((frames * PAGE_SIZE) / MiB)],
    ['free_memory', Math.floor((free * PAGE_SIZE) / MiB)],
    ['sharing_freed_memory', 0],
    ['sharing_used_memory', 0],
    ['outstanding_claims', 0],
    ['free_cpus', 0],
    ['xen_major', XEN_MAJOR],
    ['xen_minor', XEN_MINOR],
    ['xen_extra', XEN_EXTRAVERSION],
    ['xen_version', `${XEN_MAJOR}.${XEN_MINOR}${XEN_EXTRAVERSION}`],
    ['xen_caps', caps],
    ['xen_scheduler', host.pool.scheduler.optName],
    ['xen_pagesize', PAGE_SIZE],
    ['platform_params', 'virt_start=0xffff800000000000'],
    ['xen_commandline', `sched=${def.scheduler} hap=${def.paging === 'hap' ? 1 : 0}`],
    ['nr_domains', host.domains.size],
    ['xend_config_format', 4],
  ];
}

export function renderHostInfo(host: Host): string {
  return formatInfo(hostInfoRows(host));
}
