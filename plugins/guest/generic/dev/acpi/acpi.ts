/**
 * acpi0: the reference kernel's ACPI power path (FreeBSD's dev/acpica/acpi.c and acpi_button.c, much
 * reduced). The PM1a blocks and the SCI come from the firmware's FADT (dev/acpi/tables.ts); without
 * one, from the fixed addresses Xen's FADT gives (ACPI_PM1A_EVT_BLK_ADDRESS_V1 and friends, SCI on IRQ 9).
 * It enables SCI_EN and PWRBTN_EN and takes the SCI through the IO-APIC; a power-button press runs the
 * kernel's own `shutdown -p now` path. On a plain HVM guest (no Xen platform device) it also becomes
 * the way the kernel ends the machine: S5 through PM1a_CNT (acpi_EnterSleepState) for a power-off, the
 * 0xCF9 reset control register (cpu_reset_real) for a reboot; a crash still goes to SCHEDOP_shutdown.
 */
import type { VcpuApi, VcpuRequest } from '../../../../../core/api/index.js';
import {
  ACPI_PM1,
  ACPI_PM1A_CNT_BLK_ADDRESS,
  ACPI_PM1A_EVT_BLK_ADDRESS,
  ACPI_PM1_CNT,
  ACPI_SCI_IRQ,
  ACPI_SLP_TYP,
  RCR,
  RCR_IOPORT,
  type ShutdownReason,
} from '../../../../../core/public/index.js';
import type { Driver } from '../../kern/bus.js';
import type { Fadt } from './tables.js';
import type { Kernel } from '../../kern/kernel.js';
import { kernReboot, setMachineShutdown } from '../../kern/kern_shutdown.js';
import type { IsaInterrupts } from '../../x86/io_apic.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

/** The PM1a registers and the SCI's ISA IRQ. */
interface PmBlocks {
  readonly sts: number;
  readonly en: number;
  readonly cnt: number;
  readonly sci: number;
  readonly from: string;
}

function pmBlocks(fadt: Fadt | undefined): PmBlocks {
  if (fadt === undefined || fadt.pm1aEvtBlk === 0 || fadt.pm1aCntBlk === 0) {
    return { sts: ACPI_PM1A_EVT_BLK_ADDRESS, en: ACPI_PM1A_EVT_BLK_ADDRESS + 2, cnt: ACPI_PM1A_CNT_BLK_ADDRESS, sci: ACPI_SCI_IRQ, from: "Xen's fixed blocks; no FADT" };
  }
  return { sts: fadt.pm1aEvtBlk, en: fadt.pm1aEvtBlk + 2, cnt: fadt.pm1aCntBlk, sci: fadt.sciInt, from: `FADT at 0x${fadt.id.address.toString(16)}` };
}
/** How long the kernel waits for S5 or a reset to take effect before it calls the attempt failed. */
const SHUTDOWN_GRACE_NS = 10_000_000;

/** acpi_EnterSleepState(S5) / cpu_reset_real: returns only if the machine is still running afterwards. */
function* acpiMachineShutdown(k: Kernel, v: VcpuApi, pm: PmBlocks, reason: ShutdownReason): Gen {
  // kern_reboot has drained the consoles (the UART's among them) before it calls us.
  if (reason === 'poweroff') {
    const cnt = (yield* v.inPort(pm.cnt, 2)) & ~(ACPI_PM1_CNT.SLP_TYP_MASK | ACPI_PM1_CNT.SLP_EN);
    const typ = ACPI_SLP_TYP.S5 << ACPI_PM1_CNT.SLP_TYP_SHIFT;
    yield* v.outPort(pm.cnt, 2, cnt | typ);
    yield* v.outPort(pm.cnt, 2, cnt | typ | ACPI_PM1_CNT.SLP_EN);
    yield v.sleepFor(SHUTDOWN_GRACE_NS);
    throw new Error('ACPI power-off failed - timeout');
  }
  if (reason === 'reboot') {
    yield* v.outPort(RCR_IOPORT, 1, RCR.SYS_RST);
    yield* v.outPort(RCR_IOPORT, 1, RCR.SYS_RST | RCR.RST_CPU);
    yield v.sleepFor(SHUTDOWN_GRACE_NS);
    throw new Error('reset through 0xcf9 failed');
  }
  // No ACPI way to say "crash" (or suspend): tell Xen directly.
  yield* k.hv.shutdown(reason);
}

/** The SCI: acknowledges every status bit it finds (write one to clear) and acts on the power button. */
function* sciIntr(k: Kernel, pm: PmBlocks, name: string): Gen {
  const v = k.v;
  const sts = yield* v.inPort(pm.sts, 2);
  if (sts === 0xffff || sts === 0) return;
  yield* v.outPort(pm.sts, 2, sts);
  if ((sts & ACPI_PM1.PWRBTN) === 0 || k.shuttingDown !== undefined) return;
  // acpi_button's notify → devd → `shutdown -p now`.
  k.printf(`${name}: power button pressed, shutting down`);
  yield* kernReboot(k, 'poweroff');
}

/**
 * acpi0 on nexus0. `ownsShutdown`: the flavour has no PV control (plain HVM), so power-off and reboot go
 * through the ACPI hardware rather than SCHEDOP_shutdown. `fadt`: the firmware's, when it built one.
 */
export function acpiDriver(isa: IsaInterrupts, ownsShutdown: boolean, fadt?: Fadt): Driver {
  const pm = pmBlocks(fadt);
  return {
    name: 'acpi',
    description: 'XEN HVM',
    *attach(k, dev) {
      const v = k.v;
      const cnt = yield* v.inPort(pm.cnt, 2);
      if (cnt === 0xffff) {
        k.printf(`${dev.nameunit}: no PM1a control block at 0x${pm.cnt.toString(16)}: ACPI power management off`);
        return;
      }
      // AcpiEnable: SCI_EN, then clear stale status and enable the fixed power button only.
      yield* v.outPort(pm.cnt, 2, cnt | ACPI_PM1_CNT.SCI_EN);
      yield* v.outPort(pm.sts, 2, 0xffff);
      yield* v.outPort(pm.en, 2, ACPI_PM1.PWRBTN);
      yield* isa.setup(pm.sci, { name: `irq${pm.sci}: ${dev.nameunit}`, handle: () => sciIntr(k, pm, dev.nameunit) });
      k.printf(`${dev.nameunit}: SCI on irq ${pm.sci}, PM1a at 0x${pm.sts.toString(16)} (${pm.from})`);
      k.printf(`${dev.nameunit}: Power Button (fixed)`);
      if (ownsShutdown) {
        setMachineShutdown(k, (reason) => acpiMachineShutdown(k, v, pm, reason));
        k.printf(`${dev.nameunit}: power-off through S5, reset through 0x${RCR_IOPORT.toString(16)}`);
      }
    },
  };
}
