/**
 * mi_startup and the idle loop: detect Xen and the boot protocol, pick its init ops, read the start
 * info, set up the hypercall page and event channels, attach the device tree, start the shell, then
 * serve event channels forever. Anything thrown on the way is a panic.
 */
import type { VcpuRequest } from '../../../../core/api/index.js';
import { PAGE_SIZE } from '../../../../core/public/index.js';
import { detectBootProtocol, detectXen } from '../boot/detect.js';
import { xenpvDriver } from '../dev/xen/bus/xenpv.js';
import { PolledEvents, TickedEvents } from '../dev/xen/evtchn.js';
import { Hypervisor } from '../dev/xen/hypervisor.js';
import { registerBuiltins, formatSeconds } from '../shell/builtins.js';
import { Shell } from '../shell/shell.js';
import { Device, deviceAttach } from './bus.js';
import type { Kernel } from './kernel.js';
import { panic } from './kern_shutdown.js';
import { PhysAllocator } from './vm_phys.js';

/** The kernel's version, as the banner shows it. */
export const KERNEL_VERSION = '0.1.0';

function* boot(k: Kernel): Generator<VcpuRequest, void, unknown> {
  const v = k.v;
  k.printf('---<<BOOT>>---');
  k.printf(`xenoserver generic ${KERNEL_VERSION} (GENERIC)`);
  const xen = detectXen(v);
  if (xen === undefined) throw new Error('not running on Xen: no XenVMMXenVMM signature in CPUID leaves 0x40000000-0x4000ff00');
  k.printf(`Hypervisor: Origin = "${xen.origin}" (CPUID base 0x${xen.base.toString(16)})`);
  const proto = detectBootProtocol(v);
  if ('error' in proto) throw new Error(`unknown boot protocol: ${proto.error}`);
  const ops = proto.ops;
  k.initOps = ops;
  k.printf(`XEN: ${ops.mode.toUpperCase()} guest, using ${ops.name}`);
  for (const [hook, fn] of Object.entries(ops.hooks)) k.printf(`XEN: ${ops.name}.${hook} = ${fn}`);

  const preload = ops.parsePreloadData(v, proto.startInfo);
  for (const note of preload.notes) k.printf(note);
  k.cmdline = preload.cmdline;
  k.printf(`Command line: ${preload.cmdline}`);
  const phys = new PhysAllocator(preload.ram, preload.reserved);
  const bytes = phys.ramFrames * PAGE_SIZE;
  k.printf(`real memory  = ${bytes} (${Math.floor(bytes / 2 ** 20)} MB)`);

  k.hv = new Hypervisor(v, phys.allocate() * PAGE_SIZE);
  const { major, minor } = k.hv.version();
  k.printf(`Xen version ${major}.${minor}${k.hv.extraversion()}`);
  const shared = ops.mapSharedInfo(v, k.hv, () => phys.allocate());
  if ('addr' in shared) {
    k.printf(`XEN: shared info page at 0x${shared.addr.toString(16)}`);
    k.events = new PolledEvents(v, k.hv, shared.addr);
  } else {
    k.printf(`XEN: no shared info page: ${shared.unavailable}`);
    k.events = new TickedEvents(v, k.hv, k.options.tickUs * 1000);
  }
  k.printf(`XEN: waiting for events with ${k.events.method}`);
  const rings = ops.findRings(v, k.hv, preload);

  const nexus = new Device('nexus', 0, 'nexus', undefined);
  k.devices.push(nexus);
  yield* deviceAttach(k, nexus, xenpvDriver(rings));

  registerBuiltins(k.commands);
  k.printf(`boot: up in ${formatSeconds(k.uptimeNs())}`);
  k.shell = new Shell(k, (text) => k.console?.write(text));
  k.shell.start();
}

/** Serves the event channels: runs the handlers while they find work, else polls their ports. */
function* idle(k: Kernel): Generator<VcpuRequest, never, unknown> {
  for (;;) {
    if (yield* k.runIntr()) {
      yield k.v.preempt();
      continue;
    }
    const ports = [...new Set(k.intr.map((h) => h.port))];
    const deadlines = k.intr.map((h) => h.deadline?.() ?? 0).filter((d) => d > 0);
    yield* k.events.wait(ports, deadlines.length > 0 ? Math.min(...deadlines) : 0);
  }
}

/** The boot vCPU's program. */
export function* kernelMain(k: Kernel): Generator<VcpuRequest, void, unknown> {
  try {
    yield* boot(k);
    yield* idle(k);
  } catch (error) {
    yield* panic(k, (error as Error).message);
  }
}
