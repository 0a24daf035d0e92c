/**
 * A domain's xenstore home as libxl writes it (libxl_create.c, libxl_dom.c, libxl_console.c; xen-facts
 * §2.1–2.3), in one transaction: `/local/domain/<id>` with libxl's permissions, `/vm/<uuid>`, `/libxl/<id>`,
 * and the primary console's backend directory in Dom0.
 */
import type { XenstoreOps } from '../../../core/api/index.js';

/** What the home says about the domain. */
export interface HomeFacts {
  domid: number;
  name: string;
  uuid: string;
  type: 'pv' | 'pvh' | 'hvm';
  vcpus: number;
  maxvcpus: number;
  targetKiB: number;
  maxKiB: number;
  store: { gfn: number; port: number };
  console: { gfn: number; port: number };
  /** Virtual seconds since boot, as `/vm/<uuid>/start_time` records wall time. */
  startTime: string;
  /** Path of the console socket (`console/tty`). */
  consoleTty: string;
}

/** Nodes the guest owns and may write (libxl's rwperm areas). */
const GUEST_WRITABLE = ['data', 'drivers', 'feature', 'attr', 'error'];
/** control/ nodes the guest answers in (written empty, guest-owned). */
const CONTROL_RW = ['shutdown', 'feature-poweroff', 'feature-reboot', 'feature-suspend', 'sysrq'];

export function homePath(domid: number): string {
  return `/local/domain/${domid}`;
}

/** Writes every node of a new domain's home. */
export function writeHome(tx: XenstoreOps, f: HomeFacts): number {
  const home = homePath(f.domid);
  const roperm = ['n0', `r${f.domid}`];
  const rwperm = [`n${f.domid}`];
  let ops = 0;
  const write = (path: string, value: string, perms?: readonly string[]): void => {
    tx.write(path, value);
    ops++;
    if (perms) {
      tx.setPerms(path, perms);
      ops++;
    }
  };
  const vm = `/vm/${f.uuid}`;
  write(vm, '', roperm);
  write(`${vm}/uuid`, f.uuid);
  write(`${vm}/name`, f.name);
  write(`${vm}/start_time`, f.startTime);
  write(`${vm}/image/ostype`, f.type === 'hvm' ? 'hvm' : 'linux');

  write(home, '', roperm);
  write(`${home}/vm`, vm);
  write(`${home}/name`, f.name);
  write(`${home}/domid`, String(f.domid));
  write(`${home}/cpu`, '', roperm);
  for (let i = 0; i < f.maxvcpus; i++) write(`${home}/cpu/${i}/availability`, i < f.vcpus ? 'online' : 'offline');
  write(`${home}/memory`, '', roperm);
  write(`${home}/memory/static-max`, String(f.maxKiB));
  write(`${home}/memory/target`, String(f.targetKiB));
  if (f.type === 'hvm') write(`${home}/memory/videoram`, '0');
  write(`${home}/store/port`, String(f.store.port));
  write(`${home}/store/ring-ref`, String(f.store.gfn));
  write(`${home}/device`, '', roperm);
  write(`${home}/device/suspend/event-channel`, '', rwperm);
  write(`${home}/control`, '', roperm);
  for (const c of CONTROL_RW) write(`${home}/control/${c}`, '', rwperm);
  write(`${home}/control/platform-feature-multiprocessor-suspend`, '1');
  write(`${home}/control/platform-feature-xs_reset_watches`, '1');
  for (const area of GUEST_WRITABLE) write(`${home}/${area}`, '', rwperm);

  // The primary console: frontend keys in the guest's home, the backend directory in Dom0's.
  const backend = `/local/domain/0/backend/console/${f.domid}/0`;
  write(`${home}/console`, '', roperm);
  write(`${home}/console/backend`, backend);
  write(`${home}/console/backend-id`, '0');
  write(`${home}/console/limit`, '1048576');
  write(`${home}/console/type`, 'xenconsoled');
  write(`${home}/console/output`, 'pty');
  write(`${home}/console/tty`, f.consoleTty);
  write(`${home}/console/port`, String(f.console.port));
  write(`${home}/console/ring-ref`, String(f.console.gfn));
  write(backend, '', ['n0', `r${f.domid}`]);
  write(`${backend}/frontend`, `${home}/console`);
  write(`${backend}/frontend-id`, String(f.domid));
  write(`${backend}/online`, '1');
  write(`${backend}/state`, '1');
  write(`${backend}/protocol`, 'vt100');

  const libxl = `/libxl/${f.domid}`;
  write(libxl, '', ['n0']);
  write(`${libxl}/type`, f.type);
  if (f.type === 'hvm') write(`${libxl}/dm-version`, 'qemu_xen');
  return ops;
}

/** Removes everything {@link writeHome} wrote. */
export function removeHome(tx: XenstoreOps, domid: number, uuid: string): number {
  tx.rm(homePath(domid));
  tx.rm(`/vm/${uuid}`);
  tx.rm(`/libxl/${domid}`);
  tx.rm(`/local/domain/0/backend/console/${domid}`);
  return 4;
}
