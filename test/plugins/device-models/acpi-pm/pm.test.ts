/** The acpi-pm device model through the device-model host's ioreq path, on the host's fakes. */
import { describe, expect, it } from 'vitest';
import { createLogger, MemoryLogSink } from '../../../../core/api/index.js';
import { ACPI_PM1, ACPI_PM1_CNT, ACPI_SCI_IRQ } from '../../../../core/public/index.js';
import { acpiPmModel, type AcpiPm } from '../../../../plugins/device-models/acpi-pm/index.js';
import { DeviceModelRun } from '../../../../plugins/dom0/device-model/instance.js';
import { FakeClock, FakeServer, FakeTasks, Guest, hvmConfig } from '../../dom0/device-model/fakes.js';

const PM1_STS = 0xb000;
const PM1_EN = 0xb002;
const PM1_CNT = 0xb004;
const PM_TMR = 0xb008;
const GPE0_STS = 0xafe0;
const GPE0_EN = 0xafe2;

function setup(mode: 'hvm' | 'pvhvm' = 'hvm') {
  const server = new FakeServer(5);
  const clock = new FakeClock();
  const logs = new MemoryLogSink();
  const shutdowns: string[] = [];
  const run = new DeviceModelRun(5, hvmConfig({ xenPlatformPci: mode === 'pvhvm' }), mode, {
    server,
    tasks: new FakeTasks(clock),
    engine: clock as never,
    models: [acpiPmModel],
    log: createLogger('device-model', logs.sink, () => clock.now, 'debug'),
    shutdown: (reason) => shutdowns.push(reason),
  });
  run.createDevices();
  return { server, clock, logs, shutdowns, run, guest: new Guest(server), pm: run.device('acpi-pm') as AcpiPm };
}

describe('acpi-pm', () => {
  it('is made for HVM and PVHVM guests only', () => {
    expect(acpiPmModel.wanted(hvmConfig(), 'hvm')).toBe(true);
    expect(acpiPmModel.wanted(hvmConfig(), 'pvhvm')).toBe(true);
    expect(acpiPmModel.wanted(hvmConfig(), 'pv')).toBe(false);
    expect(acpiPmModel.wanted(hvmConfig(), 'pvh')).toBe(false);
  });

  it('claims the PM1a event/control, timer and GPE0 blocks on the ioreq server', () => {
    const { server } = setup();
    expect(server.ranges).toEqual(expect.arrayContaining([
      { space: 'pio', start: 0xb000, end: 0xb003 },
      { space: 'pio', start: 0xb004, end: 0xb005 },
      { space: 'pio', start: 0xb008, end: 0xb00b },
      { space: 'pio', start: 0xafe0, end: 0xafe3 },
    ]));
  });

  it('presses the power button only once PWRBTN_EN is set; the SCI follows enabled status until it is cleared', () => {
    const { server, guest, run } = setup();
    expect(run.trigger('power')).toBe(false);
    expect(guest.in(PM1_STS, 2)).toBe(0);
    expect(server.level(ACPI_SCI_IRQ)).toBe(false);

    guest.out(PM1_CNT, 2, ACPI_PM1_CNT.SCI_EN);
    guest.out(PM1_EN, 2, ACPI_PM1.PWRBTN);
    expect(guest.in(PM1_EN, 2)).toBe(ACPI_PM1.PWRBTN);
    expect(run.trigger('power')).toBe(true);
    expect(guest.in(PM1_STS, 2) & ACPI_PM1.PWRBTN).toBe(ACPI_PM1.PWRBTN);
    expect(server.level(ACPI_SCI_IRQ)).toBe(true);

    // Disabling the event drops the SCI though the status stays; re-enabling raises it again.
    guest.out(PM1_EN, 2, 0);
    expect(server.level(ACPI_SCI_IRQ)).toBe(false);
    guest.out(PM1_EN, 2, ACPI_PM1.PWRBTN);
    expect(server.level(ACPI_SCI_IRQ)).toBe(true);
    // Writing zero clears nothing; writing the bit clears it (write one to clear).
    guest.out(PM1_STS, 2, 0);
    expect(guest.in(PM1_STS, 2) & ACPI_PM1.PWRBTN).toBe(ACPI_PM1.PWRBTN);
    guest.out(PM1_STS, 2, ACPI_PM1.PWRBTN);
    expect(guest.in(PM1_STS, 2)).toBe(0);
    expect(server.level(ACPI_SCI_IRQ)).toBe(false);
    expect(server.edges(ACPI_SCI_IRQ)).toBe(2);
  });

  it('reads and writes PM1 as bytes and as a dword spanning STS and EN', () => {
    const { guest, run } = setup();
    guest.outb(PM1_EN + 1, ACPI_PM1.PWRBTN >> 8);
    expect(guest.in(PM1_EN, 2)).toBe(ACPI_PM1.PWRBTN);
    run.trigger('power');
    expect(guest.in(PM1_STS, 4)).toBe(((ACPI_PM1.PWRBTN << 16) | ACPI_PM1.PWRBTN) >>> 0);
    expect(guest.inb(PM1_STS + 1)).toBe(ACPI_PM1.PWRBTN >> 8);
    guest.out(PM1_STS, 4, ACPI_PM1.PWRBTN | (ACPI_PM1.PWRBTN << 16));
    expect(guest.in(PM1_STS, 2)).toBe(0);
    expect(guest.in(PM1_EN, 2)).toBe(ACPI_PM1.PWRBTN);
  });

  it('keeps SCI_EN and SLP_TYP in PM1_CNT, and powers the guest off on SLP_EN with SLP_TYP 7 (S5)', () => {
    const { guest, shutdowns, logs } = setup();
    guest.out(PM1_CNT, 2, ACPI_PM1_CNT.SCI_EN | (7 << 10));
    expect(guest.in(PM1_CNT, 2)).toBe(ACPI_PM1_CNT.SCI_EN | (7 << 10));
    expect(shutdowns).toEqual([]);
    // S3 with SLP_EN: not supported, refused with a warning; SLP_EN reads back as 0.
    guest.out(PM1_CNT, 2, ACPI_PM1_CNT.SCI_EN | (5 << 10) | ACPI_PM1_CNT.SLP_EN);
    expect(guest.in(PM1_CNT, 2)).toBe(ACPI_PM1_CNT.SCI_EN | (5 << 10));
    expect(shutdowns).toEqual([]);
    expect(logs.lines('warn').join('\n')).toMatch(/dom5: acpi-pm: guest asked for sleep state S3 \(suspend to RAM\), which is not supported/);
    guest.out(PM1_CNT, 2, ACPI_PM1_CNT.SCI_EN | (7 << 10) | ACPI_PM1_CNT.SLP_EN);
    expect(shutdowns).toEqual(['poweroff']);
  });

  it('counts the PM timer at 3.579545 MHz from virtual time, wrapping at 24 bits', () => {
    const { guest, clock } = setup();
    expect(guest.in(PM_TMR, 4)).toBe(0);
    clock.advance(1_000_000_000);
    expect(guest.in(PM_TMR, 4)).toBe(3_579_545);
    clock.advance(3_000_000_000); // 4 s: 14 318 180 ticks, past 2^24
    expect(guest.in(PM_TMR, 4)).toBe((4 * 3_579_545) % 2 ** 24);
    expect(guest.in(PM_TMR, 2)).toBe((4 * 3_579_545) % 2 ** 16);
  });

  it('keeps GPE0_EN, clears GPE0_STS by writing ones, and raises no SCI with no GPE source', () => {
    const { guest, server } = setup();
    guest.out(GPE0_EN, 2, 0x0f);
    expect(guest.in(GPE0_EN, 2)).toBe(0x0f);
    expect(guest.in(GPE0_STS, 2)).toBe(0);
    expect(server.level(ACPI_SCI_IRQ)).toBe(false);
  });

  it('resets through 0xCF9 only when RST_CPU is written, keeping SYS_RST; the reset trigger reboots too', () => {
    const { guest, shutdowns, run } = setup();
    guest.outb(0xcf9, 0x02);
    expect(guest.inb(0xcf9)).toBe(0x02);
    expect(shutdowns).toEqual([]);
    guest.outb(0xcf9, 0x06);
    expect(shutdowns).toEqual(['reboot']);
    // A dword at 0xCF8 is still CONFIG_ADDRESS, not the reset register.
    expect(guest.cfgRead(0, 0, 4)).toBe(0x1237_8086);
    expect(run.trigger('reset')).toBe(true);
    expect(shutdowns).toEqual(['reboot', 'reboot']);
  });

  it('releases its ranges, the reset register and the SCI when disposed', () => {
    const { server, guest, run, shutdowns } = setup();
    guest.out(PM1_EN, 2, ACPI_PM1.PWRBTN);
    run.trigger('power');
    expect(server.level(ACPI_SCI_IRQ)).toBe(true);
    run.stop();
    expect(server.level(ACPI_SCI_IRQ)).toBe(false);
    expect(server.ranges.filter((r) => r.start >= 0xafe0 && r.end <= 0xb00b)).toEqual([]);
    expect(run.trigger('reset')).toBe(false);
    expect(shutdowns).toEqual([]);
  });

  it('without a shutdown path, an S5 write is logged as refused and the guest runs on', () => {
    const server = new FakeServer(5);
    const clock = new FakeClock();
    const logs = new MemoryLogSink();
    const run = new DeviceModelRun(5, hvmConfig(), 'hvm', { server, tasks: new FakeTasks(clock), engine: clock as never, models: [acpiPmModel], log: createLogger('device-model', logs.sink, () => clock.now, 'debug') });
    run.createDevices();
    new Guest(server).out(PM1_CNT, 2, (7 << 10) | ACPI_PM1_CNT.SLP_EN);
    expect(logs.lines('warn').join('\n')).toContain('dom5: acpi-pm asked for poweroff, but this device model cannot shut its guest down');
  });
});
