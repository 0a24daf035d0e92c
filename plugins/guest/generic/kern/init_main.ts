/**
 * mi_startup: detect Xen and the boot protocol, pick its init ops and hooks, read the start info, set
 * up the boot CPU (hypercall pages, event channels, clock, IPIs), attach the device tree, start the
 * APs (options SMP), the shell, then idle. Anything thrown on the way is a panic.
 */
import type { VcpuRequest } from '../../../../core/api/index.js';
import { PAGE_SIZE } from '../../../../core/public/index.js';
import { detectBootProtocol, detectXen } from '../boot/detect.js';
import { detectHvmBoot, hvmBoot } from '../boot/hvm.js';
import { xenHooks } from '../boot/xen_hooks.js';
import { xenpvDriver } from '../dev/xen/bus/xenpv.js';
import { Hypervisor } from '../dev/xen/hypervisor.js';
import { registerBuiltins, formatSeconds } from '../shell/builtins.js';
import { Shell } from '../shell/shell.js';
import { Device, deviceAttach } from './bus.js';
import { hookNames } from './hooks.js';
import { idleLoop } from './idle.js';
import { KERNEL_VERSION, type Kernel } from './kernel.js';
import { panic } from './kern_shutdown.js';
import { cpuSetup, startAps } from './mp_machdep.js';
import { registerKernSysctls } from './kern_mib.js';
import { PhysAllocator } from './vm_phys.js';


function* boot(k: Kernel): Generator<VcpuRequest, void, unknown> {
  const v = k.v;
  k.printf('---<<BOOT>>---');
  k.printf(`xenoserver generic ${KERNEL_VERSION} (${k.config.ident})`);
  // No start info in RBX/RSI but the firmware's hand-off block at RDI: entered by HVM firmware.
  if ('error' in detectBootProtocol(v) && detectHvmBoot(v)) return yield* bootNative(k);
  const xen = detectXen(v);
  if (xen === undefined) throw new Error('not running on Xen: no XenVMMXenVMM signature in CPUID leaves 0x40000000-0x4000ff00');
  k.printf(`Hypervisor: Origin = "${xen.origin}" (CPUID base 0x${xen.base.toString(16)})`);
  const proto = detectBootProtocol(v);
  if ('error' in proto) throw new Error(`unknown boot protocol: ${proto.error}`);
  const ops = proto.ops;
  k.initOps = ops;
  k.preloadStartInfo = proto.startInfo;
  k.printf(`XEN: ${ops.mode.toUpperCase()} guest, using ${ops.name}`);
  for (const [hook, fn] of Object.entries(ops.hooks)) k.printf(`XEN: ${ops.name}.${hook} = ${fn}`);
  k.hooks = xenHooks(ops.mode);
  for (const [role, name] of hookNames(k.hooks)) k.printf(`hooks: ${role} = ${name}`);

  const preload = ops.parsePreloadData(v, proto.startInfo);
  for (const note of preload.notes) k.printf(note);
  k.cmdline = preload.cmdline;
  k.printf(`Command line: ${preload.cmdline}`);
  const phys = new PhysAllocator(preload.ram, preload.reserved);
  k.phys = phys;
  const bytes = phys.ramFrames * PAGE_SIZE;
  k.printf(`real memory  = ${bytes} (${Math.floor(bytes / 2 ** 20)} MB)`);
  const hz = /(?:^|\s)kern\.hz=(\d+)(?:\s|$)/.exec(k.cmdline);
  if (hz !== null && Number(hz[1]) >= 1) k.hz = Number(hz[1]);

  const bsp = k.bsp;
  bsp.hv = new Hypervisor(v, phys.allocate() * PAGE_SIZE);
  const { major, minor } = k.hv.version();
  k.printf(`Xen version ${major}.${minor}${k.hv.extraversion()}`);
  const shared = ops.mapSharedInfo(v, k.hv, () => phys.allocate());
  if ('addr' in shared) {
    k.printf(`XEN: shared info page at 0x${shared.addr.toString(16)}`);
    k.sharedInfo = shared.addr;
  } else {
    k.printf(`XEN: no shared info page: ${shared.unavailable}`);
  }
  cpuSetup(k, bsp);
  k.printf(`XEN: waiting for events with ${k.events.method}`);
  for (const line of k.hooks.memmap.describe(k)) k.printf(line);
  k.printf(k.hooks.pmap.describe(k));
  yield* k.hooks.clock.cpuInit(k, bsp);
  k.hooks.ipi.cpuInit(k, bsp);
  registerKernSysctls(k);
  const rings = ops.findRings(v, k.hv, preload);

  const nexus = new Device('nexus', 0, 'nexus', undefined);
  k.devices.push(nexus);
  yield* deviceAttach(k, nexus, xenpvDriver(rings));
  for (const start of k.cpuStart) yield* start(bsp);
  bsp.online = true;
  if (k.option('SMP')) yield* startAps(k);

  registerBuiltins(k.commands);
  k.printf(`boot: up in ${formatSeconds(k.uptimeNs())}`);
  k.shell = new Shell(k, (text) => k.console?.write(text));
  k.shell.start();
}

/** The HVM/PVHVM path (boot/hvm.ts): native platform, the UART as console, Xen's drivers under xenpci0 when found. */
function* bootNative(k: Kernel): Generator<VcpuRequest, void, unknown> {
  const r = yield* hvmBoot(k);
  k.printf(`XEN: ${r.flavour.toUpperCase()} guest, waiting for events with ${k.events.method}`);
  registerKernSysctls(k);
  const bsp = k.bsp;
  for (const start of k.cpuStart) yield* start(bsp);
  bsp.online = true;
  if (k.option('SMP')) yield* startAps(k);
  registerBuiltins(k.commands);
  k.printf(`boot: up in ${formatSeconds(k.uptimeNs())}`);
  k.shell = new Shell(k, (text) => (r.uart !== undefined ? r.uart.write(text) : k.console?.write(text)));
  k.shell.start();
}

/** The boot vCPU's program. */
export function* kernelMain(k: Kernel): Generator<VcpuRequest, void, unknown> {
  try {
    yield* boot(k);
    yield* idleLoop(k, k.bsp);
  } catch (error) {
    yield* panic(k, (error as Error).message);
  }
}
