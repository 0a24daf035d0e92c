import { describe, expect, it } from 'vitest';
import type { DeviceModel, DeviceModelContext } from '../../../../core/api/index.js';
import { IOREQ_TYPE } from '../../../../core/public/index.js';
import { pciIntxGsi } from '../../../../plugins/dom0/device-model/pci-bus.js';
import { rig } from './fakes.js';

/** A device with one scratch register per port at 0x500..0x503 and a port that throws. */
function scratchModel(seen: DeviceModelContext[] = []): DeviceModel {
  return {
    name: 'scratch',
    wanted: () => true,
    create(ctx) {
      seen.push(ctx);
      const regs = new Uint8Array(4);
      const r = ctx.io.registerPorts(0x500 as never, 4, {
        read: (o, s) => (s === 1 ? regs[o]! : s === 2 ? regs[o]! | (regs[o + 1]! << 8) : new DataView(regs.buffer).getUint32(0, true)),
        write: (o, s, v) => {
          for (let i = 0; i < s; i++) regs[o + i] = (v >> (8 * i)) & 0xff;
        },
      });
      const bad = ctx.io.registerPorts(0x510 as never, 1, {
        read: () => {
          throw new Error('boom');
        },
        write: () => {
          throw new Error('boom');
        },
      });
      return { dispose: () => (r.dispose(), bad.dispose()) };
    },
  };
}

describe('device-model ioreq dispatch', () => {
  it('answers PIO reads and writes through the shared page and completes each as Dom0 work charged emulatedIo', () => {
    const r = rig([scratchModel()]);
    r.guest.out(0x500, 2, 0xbeef);
    expect(r.guest.inb(0x501)).toBe(0xbe);
    expect(r.guest.in(0x500, 2)).toBe(0xbeef);
    expect(r.server.completed).toEqual([0, 0, 0]);
    expect(r.tasks.charged.emulatedIo).toBe(3);
    expect(r.run.requests).toBe(3);
  });

  it('maps claimed ranges on the ioreq server and unmaps them when stopped', () => {
    const r = rig([scratchModel()]);
    expect(r.server.ranges).toContainEqual({ space: 'pio', start: 0x500, end: 0x503 });
    expect(r.server.ranges).toContainEqual({ space: 'pio', start: 0xcf8, end: 0xcff });
    r.run.stop();
    expect(r.server.ranges).toEqual([]);
    expect(r.server.destroyed).toBe(true);
  });

  it('reads all ones from unclaimed ports and splits accesses that straddle a range', () => {
    const r = rig([scratchModel()]);
    expect(r.guest.in(0x600, 4)).toBe(0xffff_ffff);
    r.guest.outb(0x503, 0x12);
    // 0x503 is the scratch device's last byte; 0x504 is nobody's.
    expect(r.guest.in(0x503, 2)).toBe(0xff12);
  });

  it('a device that throws is logged naming it and the domain, the read gives all ones, and the guest carries on', () => {
    const r = rig([scratchModel()]);
    expect(r.guest.inb(0x510)).toBe(0xff);
    r.guest.outb(0x510, 1);
    expect(r.logs.lines('error').some((l) => l.includes('dom5: device scratch failed on pio 0x510: boom'))).toBe(true);
    r.guest.outb(0x500, 7);
    expect(r.guest.inb(0x500)).toBe(7);
  });

  it('refuses overlapping claims naming both owners', () => {
    const other: DeviceModel = { name: 'other', wanted: () => true, create: (ctx) => (ctx.io.registerPorts(0x502 as never, 4, { read: () => 0, write: () => {} }), { dispose() {} }) };
    const r = rig([scratchModel(), other]);
    expect(r.run.devices).toEqual(['scratch']);
    expect(r.logs.lines('error').join('\n')).toMatch(/other could not be created: .*other claims ports 0x502-0x505, which overlap scratch's 0x500-0x503/);
  });

  it('rep outs and ins move data through guest memory (data_is_ptr), forwards and backwards', () => {
    const r = rig([scratchModel()]);
    r.server.guestMemory.write(0x1000, Uint8Array.of(1, 2, 3));
    r.guest.raw(IOREQ_TYPE.pio, 0x500, 1, false, 0x1000, { count: 3, ptr: true });
    expect(r.guest.inb(0x500)).toBe(3); // the last byte written wins on a port
    r.guest.raw(IOREQ_TYPE.pio, 0x500, 1, true, 0x2002, { count: 3, ptr: true, df: true });
    expect([...r.server.guestMemory.read(0x2000, 3)]).toEqual([3, 3, 3]);
    expect(r.tasks.charged.memoryAccess).toBe(4);
  });

  it('bad sizes and unknown ioreq types complete with all ones and a warning, never throwing', () => {
    const r = rig([scratchModel()]);
    expect(r.guest.raw(IOREQ_TYPE.pio, 0x500, 3, true, 0)).toBe(2 ** 64 - 1);
    expect(r.guest.raw(9, 0x500, 1, true, 0)).toBe(2 ** 64 - 1);
    expect(r.logs.lines('warn').join('\n')).toMatch(/bad pio access size 3[\s\S]*unknown ioreq type 9/);
  });

  it('leaves a slot that is not STATE_IOREQ_READY alone', () => {
    const r = rig([scratchModel()]);
    r.server.notify(0);
    expect(r.server.completed).toEqual([]);
  });

  it('ISA IRQ lines are wired-OR and a pulse is one edge', () => {
    const seen: DeviceModelContext[] = [];
    const r = rig([scratchModel(seen)]);
    const a = seen[0]!.isaIrq(4);
    const b = seen[0]!.isaIrq(4);
    a.assert();
    b.assert();
    a.deassert();
    expect(r.server.level(4)).toBe(true);
    b.deassert();
    expect(r.server.level(4)).toBe(false);
    seen[0]!.isaIrq(0).pulse();
    expect(r.server.edges(0)).toBe(1);
    expect(seen[0]!.isaIrq(0).gsi).toBe(2);
  });

  it('device timers fire as Dom0 tasks at their virtual time and can be cancelled', () => {
    const seen: DeviceModelContext[] = [];
    const r = rig([scratchModel(seen)]);
    const fired: number[] = [];
    seen[0]!.timer(1000, () => fired.push(seen[0]!.now()));
    const cancel = seen[0]!.timer(2000, () => fired.push(-1));
    cancel();
    r.clock.advance(5000);
    expect(fired).toEqual([1000]);
    expect(r.tasks.names).toContain('device-model dom5: scratch timer');
  });
});

describe('device-model PCI host bridge', () => {
  it('shows the i440FX at 00:00.0 and the PIIX3 at 00:01.0; empty slots read all ones', () => {
    const { guest } = rig([]);
    expect(guest.cfgRead(0, 0, 4)).toBe(0x1237_8086);
    expect(guest.cfgRead(1, 0, 4)).toBe(0x7000_8086);
    expect(guest.cfgRead(1, 0x0a, 2)).toBe(0x0601);
    expect(guest.cfgRead(1, 0x60, 1)).toBe(0x80);
    guest.cfgWrite(1, 0x60, 1, 0x0b);
    expect(guest.cfgRead(1, 0x60, 1)).toBe(0x0b);
    expect(guest.cfgRead(7, 0, 4)).toBe(0xffff_ffff);
    // The address register reads back; disabled (bit 31 clear) selects nothing.
    guest.out(0xcf8, 4, 0x0000_0000);
    expect(guest.in(0xcf8, 4)).toBe(0);
    expect(guest.in(0xcfc, 4)).toBe(0xffff_ffff);
  });

  it('sizes and maps BARs: decode enables call onBarMapped, moves unmap first, INTx follows the command register', () => {
    const calls: [number, number | undefined][] = [];
    let device = 0;
    const model: DeviceModel = {
      name: 'nic',
      wanted: () => true,
      create(ctx) {
        const d = ctx.pci.register({ name: 'nic', vendorId: 0x8086, deviceId: 0x100e, classCode: 0x020000, revision: 3, interruptPin: 1, bars: [{ kind: 'mmio', size: 0x20000 }, { kind: 'io', size: 0x40 }], onBarMapped: (i, a) => calls.push([i, a]) });
        device = d.device;
        setTimeout(() => {}, 0);
        (globalThis as { intx?: typeof d.intx }).intx = d.intx;
        return { dispose: () => d.unregister() };
      },
    };
    const { guest, server } = rig([model]);
    expect(device).toBe(2);
    guest.cfgWrite(2, 0x10, 4, 0xffff_ffff);
    expect(guest.cfgRead(2, 0x10, 4)).toBe(0xfffe_0000);
    guest.cfgWrite(2, 0x14, 4, 0xffff_ffff);
    expect(guest.cfgRead(2, 0x14, 4)).toBe(0xffff_ffc1);
    guest.cfgWrite(2, 0x10, 4, 0xf000_0000);
    guest.cfgWrite(2, 0x14, 4, 0xc000);
    expect(calls).toEqual([]);
    guest.cfgWrite(2, 0x04, 2, 0x3);
    expect(calls).toEqual([[0, 0xf000_0000], [1, 0xc000]]);
    guest.cfgWrite(2, 0x10, 4, 0xf100_0000);
    expect(calls.slice(2)).toEqual([[0, undefined], [0, 0xf100_0000]]);
    guest.cfgWrite(2, 0x04, 2, 0x0);
    expect(calls.slice(4)).toEqual([[0, undefined], [1, undefined]]);
    expect(guest.cfgRead(2, 0x3d, 1)).toBe(1);
    guest.cfgWrite(2, 0x3c, 1, 11);
    expect(guest.cfgRead(2, 0x3c, 1)).toBe(11);
    const intx = (globalThis as { intx?: { assert(): void; gsi: number } }).intx!;
    intx.assert();
    expect(server.intx.at(-1)).toEqual({ device: 2, intx: 0, high: true });
    expect(guest.cfgRead(2, 0x06, 2) & 0x8).toBe(0x8);
    guest.cfgWrite(2, 0x04, 2, 0x400);
    expect(server.intx.at(-1)).toEqual({ device: 2, intx: 0, high: false });
    expect(intx.gsi).toBe(pciIntxGsi(2, 0));
  });
});

describe('device-model MMIO', () => {
  it('an 8-byte read of unclaimed MMIO answers all ones; rep stos writes successive addresses', () => {
    const writes: [number, number][] = [];
    const model: DeviceModel = {
      name: 'mmio',
      wanted: () => true,
      create: (ctx) => ctx.io.registerMmio(0xfe00_0000 as never, 0x100, { read: (o) => o, write: (o, _s, v) => void writes.push([o, v]) }) && { dispose() {} },
    };
    const r = rig([model]);
    const view = new DataView(r.server.page.buffer);
    r.guest.raw(IOREQ_TYPE.copy, 0xfd00_0000, 8, true, 0);
    expect(view.getBigUint64(8, true)).toBe((1n << 64n) - 1n);
    expect(r.guest.raw(IOREQ_TYPE.copy, 0xfe00_0010, 4, true, 0)).toBe(0x10);
    r.guest.raw(IOREQ_TYPE.copy, 0xfe00_0020, 4, false, 0xaa, { count: 2 });
    expect(writes).toEqual([[0x20, 0xaa], [0x24, 0xaa]]);
  });
});
