import { describe, expect, it } from 'vitest';
import { MmioBus, createIoRegistrar, IoBus } from '../../../core/io/index.js';
import type { MmioHandler } from '../../../core/api/io.js';
import { guestPhysAddr, ioPort, type MachineAddr, machineAddr } from '../../../core/public/types.js';

function memoryDevice(size: number): MmioHandler & { bytes: Uint8Array } {
  const bytes = new Uint8Array(size);
  return {
    bytes,
    read: (offset, n) => {
      let v = 0;
      for (let i = n - 1; i >= 0; i--) v = v * 256 + bytes[offset + i]!;
      return v;
    },
    write: (offset, n, value) => {
      for (let i = 0; i < n; i++) bytes[offset + i] = Math.floor(value / 256 ** i) & 0xff;
    },
  };
}

describe('MmioBus', () => {
  it('dispatches loads and stores at offsets inside a high physical range', () => {
    const bus = new MmioBus();
    const dev = memoryDevice(0x1000);
    bus.register(guestPhysAddr(0xfebf_0000), 0x1000, dev, 'e1000');
    bus.write(guestPhysAddr(0xfebf_0010), 4, 0xdeadbeef);
    expect(dev.bytes[0x10]).toBe(0xef);
    expect(bus.read(guestPhysAddr(0xfebf_0012), 2)).toBe(0xdead);
  });

  it('splits an 8-byte access into two 4-byte halves, low first, unless the handler takes 64 bits', () => {
    const bus = new MmioBus<MachineAddr>();
    const dev = memoryDevice(16);
    const order: number[] = [];
    const origWrite = dev.write;
    dev.write = (o, n, v) => {
      order.push(o);
      origWrite(o, n, v);
    };
    bus.register(machineAddr(0x1_0000_0000), 16, dev, 'ram-like');
    bus.write64(machineAddr(0x1_0000_0000), 0x1122_3344_5566_7788n);
    expect(order).toEqual([0, 4]);
    expect(bus.read64(machineAddr(0x1_0000_0000))).toBe(0x1122_3344_5566_7788n);

    const wide: MmioHandler = { read: () => 0, write: () => {}, read64: () => -1n, write64: (_o, v) => order.push(Number(v & 0xffn)) };
    bus.register(machineAddr(0x2000), 8, wide, 'hpet');
    expect(bus.read64(machineAddr(0x2000))).toBe(0xffff_ffff_ffff_ffffn);
    bus.write64(machineAddr(0x2000), 0x1ffn);
    expect(order.at(-1)).toBe(0xff);
  });

  it('reads all ones from unclaimed addresses of every width and counts unclaimed accesses', () => {
    const bus = new MmioBus();
    expect(bus.read(guestPhysAddr(0xe000_0000), 4)).toBe(0xffff_ffff);
    expect(bus.read(guestPhysAddr(0xe000_0000), 1)).toBe(0xff);
    expect(bus.read64(guestPhysAddr(0xe000_0000))).toBe(0xffff_ffff_ffff_ffffn);
    bus.write(guestPhysAddr(0xe000_0000), 4, 1);
    bus.write64(guestPhysAddr(0xe000_0000), 1n);
    expect(bus.unclaimed).toEqual({ reads: 3, writes: 2 });
  });

  it('reports overlaps in hex with both owners, and refuses straddling accesses', () => {
    const bus = new MmioBus();
    bus.register(guestPhysAddr(0xfec0_0000), 0x1000, memoryDevice(0x1000), 'ioapic0');
    expect(() => bus.register(guestPhysAddr(0xfec0_0800), 0x1000, memoryDevice(0x1000), 'ioapic1')).toThrow(
      'mmio: bytes 0xfec00800-0xfec017ff for "ioapic1" overlap 0xfec00000-0xfec00fff already registered by "ioapic0"',
    );
    expect(() => bus.read64(guestPhysAddr(0xfec0_0ffc))).toThrow(/straddles 0xfec00000-0xfec00fff \("ioapic0"\) and unclaimed space/);
  });
});

describe('createIoRegistrar', () => {
  it('claims ranges in the device model\'s name and releases them all at once', () => {
    const io = new IoBus();
    const mmio = new MmioBus();
    const registrar = createIoRegistrar(io, mmio, 'vga');
    registrar.registerPorts(ioPort(0x3c0), 0x20, memoryDevice(0x20));
    registrar.registerMmio(guestPhysAddr(0xa0000), 0x20000, memoryDevice(0x20000));
    expect(io.ownerOf(ioPort(0x3d4))).toBe('vga');
    expect(mmio.ownerOf(guestPhysAddr(0xbffff))).toBe('vga');
    expect(() => createIoRegistrar(io, mmio, 'cirrus').registerPorts(ioPort(0x3c0), 1, memoryDevice(1))).toThrow(/"cirrus" overlap .* "vga"/);
    expect(registrar.registrations).toHaveLength(2);
    registrar.releaseAll();
    expect(io.ownerOf(ioPort(0x3d4))).toBeUndefined();
    expect(mmio.registrations()).toHaveLength(0);
  });
});
