/**
 * The ACPI power-management hardware of an HVM guest (QEMU's hw/acpi/core.c PM1 and timer registers as
 * hw/acpi/piix4.c wires them, at Xen's fixed V1 addresses): the PM1a event block (PM1_STS, PM1_EN), the
 * PM1a control register (SCI_EN, SLP_TYP/SLP_EN: S5 powers the guest off), the 24-bit PM timer in
 * virtual time, GPE0 (no sources wired: status stays clear), the SCI on ISA IRQ 9 held while an
 * enabled status bit is set, and PIIX3's reset control register at 0xCF9. The toolstack's power
 * trigger presses the power button (acpi_pm1_evt_power_down), its reset trigger resets the machine.
 * The PM1 timer's TMR_STS carry bit is not emulated (TMR_EN raises no SCI).
 */
import type { DeviceModelContext, DeviceModelTrigger, EmulatedDevice, InterruptLine, IoRegistration } from '../../../core/api/index.js';
import {
  ACPI_GPE0_BLK_ADDRESS,
  ACPI_GPE0_BLK_LEN,
  ACPI_PM1,
  ACPI_PM1A_CNT_BLK_ADDRESS,
  ACPI_PM1A_CNT_BLK_LEN,
  ACPI_PM1A_EVT_BLK_ADDRESS,
  ACPI_PM1A_EVT_BLK_LEN,
  ACPI_PM1_CNT,
  ACPI_PM_TIMER_FREQUENCY,
  ACPI_PM_TIMER_MASK,
  ACPI_PM_TMR_BLK_ADDRESS,
  ACPI_PM_TMR_BLK_LEN,
  ACPI_SCI_IRQ,
  ACPI_SLP_TYP,
  RCR,
  ioPort,
} from '../../../core/public/index.js';

/** PM1_STS bits that exist (others read 0 and ignore writes). */
const PM1_STS_MASK = ACPI_PM1.TMR | ACPI_PM1.BM | ACPI_PM1.GBL | ACPI_PM1.PWRBTN | ACPI_PM1.SLPBTN | ACPI_PM1.RTC | ACPI_PM1.WAK;
/** PM1_EN bits that exist (QEMU's ACPI_BITMASK_*_ENABLE). */
const PM1_EN_MASK = ACPI_PM1.TMR | ACPI_PM1.GBL | ACPI_PM1.PWRBTN | ACPI_PM1.SLPBTN | ACPI_PM1.RTC;

/** Reads `size` bytes at byte `offset` of a little-endian register file given as 16-bit words. */
function readWords(words: readonly number[], offset: number, size: number): number {
  let value = 0;
  for (let i = size - 1; i >= 0; i--) {
    const at = offset + i;
    const word = words[at >> 1] ?? 0;
    value = value * 256 + ((at & 1 ? word >> 8 : word) & 0xff);
  }
  return value >>> 0;
}

/** The 16-bit words a `size`-byte write at `offset` touches, as (word index, bits written, new bits). */
function writeWords(offset: number, size: number, value: number): { index: number; mask: number; bits: number }[] {
  const out = new Map<number, { index: number; mask: number; bits: number }>();
  for (let i = 0; i < size; i++) {
    const at = offset + i;
    const byte = Math.floor(value / 2 ** (8 * i)) & 0xff;
    const shift = at & 1 ? 8 : 0;
    const w = out.get(at >> 1) ?? { index: at >> 1, mask: 0, bits: 0 };
    w.mask |= 0xff << shift;
    w.bits |= byte << shift;
    out.set(at >> 1, w);
  }
  return [...out.values()];
}

/** One guest's ACPI PM device. */
export class AcpiPm implements EmulatedDevice {
  /** PM1_STS, PM1_EN. */
  pm1Sts = 0;
  pm1En = 0;
  /** PM1_CNT without the write-only SLP_EN. */
  pm1Cnt = 0;
  gpe0Sts = 0;
  gpe0En = 0;
  /** The reset control register (SYS_RST kept, as QEMU's rcr_write keeps it). */
  rcr = 0;
  private readonly sci: InterruptLine;
  private readonly claims: IoRegistration[] = [];

  constructor(private readonly ctx: DeviceModelContext) {
    this.sci = ctx.isaIrq(ACPI_SCI_IRQ);
    const io = ctx.io;
    this.claims.push(
      io.registerPorts(ioPort(ACPI_PM1A_EVT_BLK_ADDRESS), ACPI_PM1A_EVT_BLK_LEN, {
        read: (o, s) => readWords([this.pm1Sts, this.pm1En], o, s),
        write: (o, s, v) => this.writeEvt(o, s, v),
      }),
      io.registerPorts(ioPort(ACPI_PM1A_CNT_BLK_ADDRESS), ACPI_PM1A_CNT_BLK_LEN, {
        read: (o, s) => readWords([this.pm1Cnt], o, s),
        write: (o, s, v) => this.writeCnt(o, s, v),
      }),
      io.registerPorts(ioPort(ACPI_PM_TMR_BLK_ADDRESS), ACPI_PM_TMR_BLK_LEN, {
        read: (o, s) => {
          const count = this.timer();
          return readWords([count & 0xffff, count >>> 16], o, s);
        },
        write: () => ctx.warn('write to the read-only PM timer ignored'),
      }),
      io.registerPorts(ioPort(ACPI_GPE0_BLK_ADDRESS), ACPI_GPE0_BLK_LEN, {
        read: (o, s) => readWords([this.gpe0Sts, this.gpe0En], o, s),
        write: (o, s, v) => this.writeGpe(o, s, v),
      }),
      ctx.pci.claimResetControl({ read: () => this.rcr, write: (v) => this.writeRcr(v) }),
    );
  }

  /** The PM timer's count now: 3.579545 MHz from virtual time 0, 24 bits. */
  timer(): number {
    const ticks = (BigInt(Math.floor(this.ctx.now())) * BigInt(ACPI_PM_TIMER_FREQUENCY)) / 1_000_000_000n;
    return Number(ticks & BigInt(ACPI_PM_TIMER_MASK));
  }

  /** The power button (QEMU's acpi_pm1_evt_power_down): PWRBTN_STS, and the SCI, only when PWRBTN_EN is set. */
  pressPowerButton(): boolean {
    if ((this.pm1En & ACPI_PM1.PWRBTN) === 0) {
      this.ctx.info('power button pressed, but the guest has not enabled it (PWRBTN_EN clear): ignored');
      return false;
    }
    this.pm1Sts |= ACPI_PM1.PWRBTN;
    this.updateSci();
    this.ctx.info('power button pressed');
    return true;
  }

  trigger(kind: DeviceModelTrigger): boolean {
    if (kind === 'power') return this.pressPowerButton();
    this.ctx.shutdown('reboot');
    return true;
  }

  dump(): string {
    const h = (n: number): string => n.toString(16).padStart(4, '0');
    return `PM1_STS=${h(this.pm1Sts)} PM1_EN=${h(this.pm1En)} PM1_CNT=${h(this.pm1Cnt)} GPE0_STS=${h(this.gpe0Sts)} GPE0_EN=${h(this.gpe0En)} RCR=${this.rcr.toString(16)} sci=${this.sci.asserted ? 1 : 0}`;
  }

  dispose(): void {
    if (this.sci.asserted) this.sci.deassert();
    for (const c of this.claims.splice(0)) c.dispose();
  }

  /** pm_update_sci: the SCI is held while an enabled event is pending. */
  private updateSci(): void {
    const level = (this.pm1Sts & this.pm1En & PM1_EN_MASK) !== 0 || (this.gpe0Sts & this.gpe0En) !== 0;
    if (level && !this.sci.asserted) this.sci.assert();
    else if (!level && this.sci.asserted) this.sci.deassert();
  }

  private writeEvt(offset: number, size: number, value: number): void {
    for (const w of writeWords(offset, size, value)) {
      // PM1_STS: write one to clear; PM1_EN: read/write.
      if (w.index === 0) this.pm1Sts &= ~(w.bits & w.mask & PM1_STS_MASK);
      else this.pm1En = ((this.pm1En & ~w.mask) | (w.bits & w.mask)) & PM1_EN_MASK;
    }
    this.updateSci();
  }

  private writeGpe(offset: number, size: number, value: number): void {
    for (const w of writeWords(offset, size, value)) {
      if (w.index === 0) this.gpe0Sts &= ~(w.bits & w.mask);
      else this.gpe0En = (this.gpe0En & ~w.mask) | (w.bits & w.mask);
    }
    this.updateSci();
  }

  /** acpi_pm1_cnt_write: keeps everything but SLP_EN; SLP_EN enters the sleep state SLP_TYP names. */
  private writeCnt(offset: number, size: number, value: number): void {
    let written = 0;
    let mask = 0;
    for (const w of writeWords(offset, size, value)) ((written |= w.bits), (mask |= w.mask));
    const cnt = (this.pm1Cnt & ~mask) | (written & mask);
    this.pm1Cnt = cnt & ~ACPI_PM1_CNT.SLP_EN;
    if ((cnt & ACPI_PM1_CNT.SLP_EN) === 0) return;
    const slpTyp = (cnt & ACPI_PM1_CNT.SLP_TYP_MASK) >> ACPI_PM1_CNT.SLP_TYP_SHIFT;
    if (slpTyp === ACPI_SLP_TYP.S5) {
      this.ctx.info('guest entered S5 (soft off)');
      this.ctx.shutdown('poweroff');
      return;
    }
    const state = slpTyp === ACPI_SLP_TYP.S3 ? 'S3 (suspend to RAM)' : slpTyp === ACPI_SLP_TYP.S4 ? 'S4 (hibernate)' : `SLP_TYP ${slpTyp}`;
    this.ctx.warn(`guest asked for sleep state ${state}, which is not supported: ignored`);
  }

  /** rcr_write: RST_CPU resets the machine (QEMU's qemu_system_reset_request); only SYS_RST is kept. */
  private writeRcr(value: number): void {
    if (value & RCR.RST_CPU) {
      this.ctx.info(`reset through 0xcf9 (${value & RCR.SYS_RST ? 'hard' : 'soft'})`);
      this.ctx.shutdown('reboot');
    }
    this.rcr = value & RCR.SYS_RST;
  }
}
