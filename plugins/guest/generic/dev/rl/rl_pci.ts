/**
 * rl(4) on the PCI bus (FreeBSD's rl_probe/rl_attach): claims the RealTek 8139, turns on bus mastering,
 * routes its INTx — a PCI interrupt: level-triggered, active low on the IO-APIC pin its GSI names —
 * initialises the chip and hands the interface to the kernel's `ifnets` and network stack.
 */
import type { VcpuRequest } from '../../../../../core/api/index.js';
import type { Driver } from '../../kern/bus.js';
import type { Kernel } from '../../kern/kernel.js';
import { netAttach, netDeadline, netTimers } from '../../net/kern_net.js';
import { IOAPIC_REDTBL, IOART_DELFIXED, IOART_INTALO, IOART_TRGRLVL } from '../../x86/apicreg.js';
import type { IntrVectors, VectorHandler } from '../../x86/intr.js';
import { APIC_IO_INTS, type IoApicDriver } from '../../x86/io_apic.js';
import type { PciDevinfo, PciDriver } from '../pci/pci.js';
import { PCIR, pciCfgRead, pciCfgWrite } from '../pci/pci_cfgreg.js';
import { RlSoftc } from './if_rl.js';

/** What the driver needs from the machine-dependent layer to take a PCI interrupt. */
export interface RlContext {
  readonly intr: IntrVectors;
  readonly ioapic: IoApicDriver;
  /** The boot CPU's APIC ID: PCI interrupts are delivered there. */
  readonly apicId: number;
}

const RT_VENDORID = 0x10ec;
const RT_DEVICEID_8139 = 0x8139;
const PCIM_CMD_PORTEN = 0x1;
const PCIM_CMD_BUSMASTEREN = 0x4;
const hex = (n: number): string => `0x${n.toString(16)}`;

/** Handlers sharing one vector (PCI interrupts may share a GSI), per vector table. */
const shared = new WeakMap<IntrVectors, Map<number, VectorHandler[]>>();

/** Binds `handler` to the vector of `gsi` (sharing it with any handler already there) and programs the pin level-triggered, active low. */
function* setupPciIntr(ctx: RlContext, gsi: number, handler: VectorHandler): Generator<VcpuRequest, number, unknown> {
  const vector = APIC_IO_INTS + gsi;
  let byVector = shared.get(ctx.intr);
  if (byVector === undefined) shared.set(ctx.intr, (byVector = new Map()));
  const list = byVector.get(vector);
  if (list !== undefined) {
    list.push(handler);
    return vector;
  }
  const handlers = [handler];
  byVector.set(vector, handlers);
  ctx.intr.bind(vector, {
    name: `irq${gsi}: ${handler.name}`,
    *handle() {
      for (const h of handlers) yield* h.handle();
    },
  });
  yield* ctx.ioapic.write(IOAPIC_REDTBL + 2 * gsi + 1, ctx.apicId << 24);
  yield* ctx.ioapic.write(IOAPIC_REDTBL + 2 * gsi, IOART_DELFIXED | IOART_TRGRLVL | IOART_INTALO | vector);
  return vector;
}

function rlDriver(info: PciDevinfo, ctx: RlContext): Driver {
  return {
    name: 'rl',
    description: 'RealTek 8139 10/100BaseTX',
    *attach(k: Kernel, dev) {
      const io = info.bars.find((b) => b.kind === 'io');
      const mem = info.bars.find((b) => b.kind === 'mmio');
      // The platform's unplug may have taken the NIC since the bus was enumerated.
      if ((yield* pciCfgRead(k.v, info, PCIR.VENDOR, 2)) !== RT_VENDORID) {
        k.printf(`${dev.nameunit}: gone from device ${info.slot}.${info.func} (unplugged): not attached`);
        return;
      }
      if (io === undefined) throw new Error(`${dev.nameunit}: no I/O BAR`);
      const gsi = info.intline;
      k.printf(`${dev.nameunit}: port ${hex(io.base)}-${hex(io.base + io.size - 1)}${mem ? ` mem ${hex(mem.base)}-${hex(mem.base + mem.size - 1)}` : ''} irq ${gsi} at device ${info.slot}.${info.func}`);
      const command = yield* pciCfgRead(k.v, info, PCIR.COMMAND, 2);
      yield* pciCfgWrite(k.v, info, PCIR.COMMAND, 2, command | PCIM_CMD_PORTEN | PCIM_CMD_BUSMASTEREN);
      const sc = new RlSoftc(k, dev.nameunit, io.base);
      yield* sc.init(k.v);
      k.printf(`${dev.nameunit}: Ethernet address: ${[...sc.mac].map((b) => b.toString(16).padStart(2, '0')).join(':')}`);
      if (gsi >= 16 && gsi < 0xff) {
        const vector = yield* setupPciIntr(ctx, gsi, {
          name: dev.nameunit,
          *handle() {
            yield* sc.intr(k.v);
          },
        });
        k.printf(`${dev.nameunit}: interrupt on GSI ${gsi} (level, low) vector ${hex(vector)}`);
      } else k.printf(`${dev.nameunit}: no interrupt routed (line ${gsi}): receive and completions are not seen`);
      // The kick of frames `transmit` queued happens where port I/O may: the idle loop, a sleeping thread;
      // the stack's resolution timers run from here too. A deadline-only handler: port 0 is never
      // pending (event channel 0 is reserved, vector 0 never taken).
      k.bindIntr({
        name: `${dev.nameunit}: start`,
        port: 0,
        *handle() {
          netTimers(k);
          return yield* sc.kick(k.v);
        },
        deadline: () => {
          const timers = netDeadline(k);
          return sc.kickPending ? 1 : timers;
        },
      });
      k.ifnets.push(sc);
      netAttach(k, sc);
      k.printf(`${dev.nameunit}: link state changed to ${sc.up ? 'UP' : 'DOWN'}`);
    },
  };
}

/** The PCI driver: claims 10ec:8139. */
export function rlPciDriver(ctx: RlContext): PciDriver {
  return {
    name: 'rl',
    probe: (info) => (info.vendor === RT_VENDORID && info.device === RT_DEVICEID_8139 ? rlDriver(info, ctx) : undefined),
  };
}
