import { describe, expect, it } from 'vitest';
import type { SerialConsole } from '../../../../core/api/index.js';
import { uart16550Model } from '../../../../plugins/device-models/uart16550/index.js';
import { hvmConfig, rig } from '../../dom0/device-model/fakes.js';

const COM1 = 0x3f8;

function line() {
  const out: string[] = [];
  const inputs = new Set<(t: string) => void>();
  const serial: SerialConsole = { write: (t) => void out.push(t), onInput: (fn) => (inputs.add(fn), () => void inputs.delete(fn)), close() {} };
  return { out, type: (t: string) => inputs.forEach((fn) => fn(t)), consoles: { attachSerial: () => serial } };
}

describe('uart16550', () => {
  it('transmits THR bytes to the serial console and raises THRE on IRQ 4 when enabled', () => {
    const l = line();
    const { guest, server } = rig([uart16550Model], hvmConfig(), 'hvm', l.consoles);
    expect(guest.inb(COM1 + 5) & 0x60).toBe(0x60);
    guest.outb(COM1 + 1, 0x02);
    expect(server.level(4)).toBe(true);
    expect(guest.inb(COM1 + 2)).toBe(0x02); // IIR: THRI; reading it clears it
    expect(server.level(4)).toBe(false);
    for (const c of 'hi\n') guest.outb(COM1, c.charCodeAt(0));
    expect(l.out.join('')).toBe('hi\n');
    expect(guest.inb(COM1 + 2)).toBe(0x02);
  });

  it('receives typed input into the FIFO with DR, RDA at the trigger level and a character timeout below it', () => {
    const l = line();
    const { guest, server, clock } = rig([uart16550Model], hvmConfig(), 'hvm', l.consoles);
    guest.outb(COM1 + 2, 0x47); // FIFO on, cleared, trigger 4
    guest.outb(COM1 + 1, 0x01);
    l.type('ab');
    expect(guest.inb(COM1 + 5) & 1).toBe(1);
    expect(server.level(4)).toBe(false);
    clock.advance(1e6);
    expect(server.level(4)).toBe(false);
    clock.advance(5e6); // 4 character times at 9600 baud (the reset divisor, 12) ≈ 4.2 ms
    expect(guest.inb(COM1 + 2)).toBe(0xcc); // CTI with FIFO bits
    expect(String.fromCharCode(guest.inb(COM1), guest.inb(COM1))).toBe('ab');
    expect(guest.inb(COM1 + 5) & 1).toBe(0);
    l.type('wxyz');
    expect(guest.inb(COM1 + 2)).toBe(0xc4); // RDA at the trigger level
  });

  it('keeps input beyond the 16-byte FIFO waiting instead of dropping it', () => {
    const l = line();
    const { guest } = rig([uart16550Model], hvmConfig(), 'hvm', l.consoles);
    guest.outb(COM1 + 2, 0x01);
    l.type('0123456789abcdefXYZ');
    let got = '';
    while (guest.inb(COM1 + 5) & 1) got += String.fromCharCode(guest.inb(COM1));
    expect(got).toBe('0123456789abcdefXYZ');
  });

  it('DLAB exposes the divisor latch; LCR, SCR read back; loopback routes THR to RBR and MCR to MSR', () => {
    const l = line();
    const { guest } = rig([uart16550Model], hvmConfig(), 'hvm', l.consoles);
    guest.outb(COM1 + 3, 0x83);
    guest.outb(COM1, 0x01);
    guest.outb(COM1 + 1, 0x00);
    expect(guest.inb(COM1)).toBe(1);
    guest.outb(COM1 + 3, 0x03);
    expect(guest.inb(COM1 + 3)).toBe(0x03);
    guest.outb(COM1 + 7, 0x5a);
    expect(guest.inb(COM1 + 7)).toBe(0x5a);
    guest.outb(COM1 + 4, 0x10 | 0x0b); // loop, DTR, RTS, OUT2
    guest.outb(COM1, 0x41);
    expect(l.out).toEqual([]);
    expect(guest.inb(COM1)).toBe(0x41);
    expect(guest.inb(COM1 + 6) & 0xf0).toBe(0x10 | 0x20 | 0x80);
  });

  it('COM2 exists with two serial entries; none without any', () => {
    const two = rig([uart16550Model], hvmConfig({ serial: ['pty', 'pty'] }));
    expect(two.server.ranges).toContainEqual({ space: 'pio', start: 0x2f8, end: 0x2ff });
    expect(uart16550Model.wanted(hvmConfig({ serial: [] }), 'hvm')).toBe(false);
    expect(uart16550Model.wanted(hvmConfig(), 'pvh' as never)).toBe(false);
  });
});
