/** The kernel's own sysctls (FreeBSD's kern_mib.c): kern.*, hw.*, machdep.hooks.*. Drivers add theirs at attach. */
import { PAGE_SIZE } from '../../../../core/public/index.js';
import { optionNumber } from '../conf/config.js';
import { hookNames } from './hooks.js';
import type { Kernel } from './kernel.js';
import { parseCount } from './kern_sysctl.js';

/** kern.ostype, as the banner and `uname -s` would say. */
export const OSTYPE = 'xenoserver';

export function registerKernSysctls(k: Kernel): void {
  const s = k.sysctl;
  s.addRo('kern.ostype', 'Operating system type', () => OSTYPE);
  s.addRo('kern.osrelease', 'Operating system release', () => k.osrelease);
  s.addRo('kern.ident', 'Kernel configuration (ident)', () => k.config.ident);
  let hostname = '';
  s.add({
    name: 'kern.hostname',
    description: 'Hostname (the xenstore name until set)',
    get: () => hostname,
    set: (value) => {
      if (value.length > 255) throw new Error('kern.hostname: longer than 255 characters');
      hostname = value;
    },
  });
  k.setHostname = (name) => {
    if (hostname === '') hostname = name;
  };
  s.addRo('kern.hz', 'Number of clock ticks per second', () => k.hz);
  s.addRo('kern.vm_guest', 'Virtual machine guest type', () => 'xen');
  s.addRo('kern.smp.cpus', 'Number of CPUs online', () => k.cpus.filter((c) => c.online).length);
  s.addRo('kern.smp.maxcpus', 'Max number of CPUs that the system was compiled for', () => (k.option('SMP') ? optionNumber(k.config, 'MAXCPU', 32) : 1));
  s.addRo('kern.smp.disabled', 'SMP has been disabled (no options SMP)', () => (k.option('SMP') ? 0 : 1));
  s.addRo('hw.ncpu', 'Number of active CPUs', () => k.cpus.filter((c) => c.online).length);
  s.addRo('hw.physmem', 'Amount of physical memory (in bytes)', () => k.phys.ramFrames * PAGE_SIZE);
  s.addRo('hw.pagesize', 'System memory page size', () => PAGE_SIZE);
  s.addRo('vm.stats.vm.v_free_count', 'Free pages', () => k.phys.freeFrames);
  for (const [role, name] of hookNames(k.hooks)) s.addRo(`machdep.hooks.${role}`, `Boot-time hook chosen for ${role}`, () => name);
  s.addRo('machdep.init_ops', 'Early-boot init ops', () => k.initOps?.name ?? 'native_init_ops');
  s.add({
    name: 'debug.mtx.runstate_check',
    description: 'Adaptive mutexes stop spinning when the owner vCPU is not running (its Xen runstate)',
    get: () => (k.mtxRunstateCheck ? 1 : 0),
    set: (value) => {
      k.mtxRunstateCheck = parseCount('debug.mtx.runstate_check', value, 1) === 1;
    },
  });
}
