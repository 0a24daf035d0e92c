import { describe, expect, it } from 'vitest';
import { GuestError, type DiskImage, type DiskImages } from '../../../../../../core/api/index.js';
import { parseDiskSpec } from '../../../../../../core/config/diskspec.js';
import { piixIdeModel, type PiixIde } from '../../../../../../plugins/device-models/ide/index.js';
import { ataPciDriver } from '../../../../../../plugins/guest/generic/dev/ata/ata_pci.js';
import type { AdaDisk } from '../../../../../../plugins/guest/generic/dev/ata/ata_disk.js';
import { ataVector } from '../../../../../../plugins/guest/generic/dev/ata/ata_channel.js';
import { pciBusDriver } from '../../../../../../plugins/guest/generic/dev/pci/pci.js';
import { Device, deviceAttach } from '../../../../../../plugins/guest/generic/kern/bus.js';
import { DiskIoError } from '../../../../../../plugins/guest/generic/kern/disk.js';
import { hvmConfig } from '../../../../dom0/device-model/fakes.js';
import { FakeImages } from '../../../../device-models/ide/fake-images.js';
import { DmMachine } from '../dm-machine.js';

/** Byte-for-byte equality of big buffers (a deep toEqual over 150 KiB is slow). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function disks(...specs: string[]) {
  return specs.map((s) => parseDiskSpec(s).value!);
}

/** A machine with the PIIX IDE model and `specs` disks, booted to the end of the ATA attach. */
function boot(specs: string[] = ['a.img,raw,hda', 'c.img,raw,hdc'], images: DiskImages = new FakeImages()) {
  const m = new DmMachine([piixIdeModel(() => images)], hvmConfig({ disk: disks(...specs) }));
  m.placeBars(2, 0xc000);
  const k = m.k;
  let attached = '';
  m.exec(
    (function* () {
      yield* m.platform();
      const nexus = new Device('nexus', 0, 'nexus', undefined);
      k.devices.push(nexus);
      yield* deviceAttach(k, nexus, pciBusDriver([ataPciDriver({ intr: m.intr, ioapic: m.ioapicDriver, apicId: 0 })]));
      attached = k.msgbuf.contents();
      for (const start of k.cpuStart) yield* start(k.bsp);
    })(),
  );
  return { m, k, attached, log: k.msgbuf.contents(), ide: m.run.device('piix-ide') as PiixIde, disk: (i: number) => k.disks[i] as AdaDisk };
}

describe('ata/ada: attach', () => {
  it('finds the PIIX3, both channels and a disk on each, and prints what FreeBSD prints', () => {
    const { k, log, attached } = boot();
    // The drives are probed once the clock runs (a cpuStart hook), not while the bus attaches.
    expect(attached).toContain('ata1: <ATA channel> on atapci0');
    expect(attached).not.toContain('ada0');
    expect(log).toContain('atapci0: <Intel PIIX3 WDMA2 controller> on pci0');
    expect(log).toContain('atapci0: port 0x1f0-0x1f7,0x3f6,0x170-0x177,0x376,0xc000-0xc00f at device 2.0');
    expect(log).toContain('ata0: <ATA channel> on atapci0');
    expect(log).toContain('ata1: channel 1 port 0x170-0x177,0x376 irq 15 vector 0x3f');
    expect(log).toContain('ada0 at ata0 bus 0 scbus0 target 0 lun 0');
    expect(log).toContain('ada0: <QEMU HARDDISK 2.5+> ATA-7 device');
    expect(log).toContain('ada0: Serial Number QM00001');
    expect(log).toContain('ada0: 1MB (2048 512 byte sectors)');
    expect(log).toContain('ada1 at ata1 bus 0 scbus1 target 0 lun 0');
    expect(k.disks.map((d) => [d.name, d.sectors, d.sectorSize, d.description])).toEqual([
      ['ada0', 2048, 512, 'QEMU HARDDISK'],
      ['ada1', 2048, 512, 'QEMU HARDDISK'],
    ]);
    expect(k.devices.find((d) => d.name === 'nexus')!.tree()).toEqual(['nexus0', '  pci0', '    atapci0', '      ata0', '        ada0', '      ata1', '        ada1']);
  });

  it('a channel without drives, or whose disks were unplugged, attaches with no disk', () => {
    const images = new FakeImages();
    const m = new DmMachine([piixIdeModel(() => images)], hvmConfig({ disk: disks('a.img,raw,hda') }));
    (m.run.device('piix-ide') as PiixIde).onUnplug('ide-disks');
    m.placeBars(2, 0xc000);
    m.exec(
      (function* () {
        yield* m.platform();
        yield* deviceAttach(m.k, new Device('nexus', 0, 'nexus', undefined), pciBusDriver([ataPciDriver({ intr: m.intr, ioapic: m.ioapicDriver, apicId: 0 })]));
        for (const start of m.k.cpuStart) yield* start(m.k.bsp);
      })(),
    );
    expect(m.k.disks).toEqual([]);
    expect(m.k.msgbuf.contents()).toContain('ata1: <ATA channel> on atapci0');
  });
});

describe('ata/ada: I/O by bus-master DMA', () => {
  it('reads through the bounce buffer, sleeping on IRQ 14: one status read and 12 exits per request, no polling', () => {
    const { m, k, disk } = boot();
    const images = (m.run.device('piix-ide') as PiixIde).drives()[0]!;
    expect(images.vdev).toBe('hda');
    const before = m.totalExits;
    const irqs = m.intr.count(ataVector(14));
    const data = m.exec(disk(0).read(k.bsp, 10, 3));
    expect(m.totalExits - before).toBe(12); // 5 task file + command + BM start, then BM status, clear, stop, ATA status, and the EOI
    for (let s = 0; s < 3; s++) for (let i = 0; i < 512; i += 97) expect(data[s * 512 + i]).toBe(((10 + s) * 7 + i) & 0xff);
    expect(m.intr.count(ataVector(14)) - irqs).toBe(1);
  });

  it('writes land in the image; FLUSH CACHE reaches image.flush(); requests over 128 KiB are split', () => {
    const images = new FakeImages();
    const { m, k, disk } = boot(['a.img,raw,hda'], images);
    const data = Uint8Array.from({ length: 300 * 512 }, (_, i) => (i * 13) & 0xff);
    const irqs = m.intr.count(ataVector(14));
    m.exec(disk(0).write(k.bsp, 1000, data));
    expect(same(images.image('a.img').bytes.subarray(1000 * 512, 1300 * 512), data)).toBe(true);
    expect(same(m.exec(disk(0).read(k.bsp, 1000, 300)), data)).toBe(true);
    expect(images.image('a.img').flushes).toBe(0);
    m.exec(disk(0).flush(k.bsp));
    expect(images.image('a.img').flushes).toBe(1);
    expect(disk(0).stats).toMatchObject({ reads: 1, writes: 1, flushes: 1, sectorsRead: 300, sectorsWritten: 300 });
    expect(m.intr.count(ataVector(14)) - irqs).toBe(2 + 2 + 1); // 256 + 44 sectors each way, and the flush
  });

  it('errors come back as DiskIoError naming the disk: past the end (no I/O), a read-only image, a failing image, a device that never interrupts', () => {
    const images = new FakeImages();
    const { m, k, disk } = boot(['a.img,raw,hda', 'r.img,raw,hdb,ro'], images);
    const exits = m.totalExits;
    expect(() => m.exec(disk(0).read(k.bsp, 2047, 2))).toThrow(new DiskIoError('ada0', 'read', 2047, '2 sectors at 2047 are not within the disk (2048 sectors)'));
    expect(m.totalExits).toBe(exits);
    expect(() => m.exec(disk(1).write(k.bsp, 0, new Uint8Array(512)))).toThrow(/ada1: write at sector 0 failed: WRITE DMA of 1 sectors at 0: ATA error 0x4 \(status 0x41\)/);
    expect(images.image('r.img').writes).toBe(0);
    images.image('a.img').failReads = true;
    expect(() => m.exec(disk(0).read(k.bsp, 5, 1))).toThrow(/ada0: read at sector 5 failed: .*ATA error 0x44/);
    images.image('a.img').failReads = false;
    m.xen.outb(0x3f6, 0x02); // nIEN behind the driver's back: the completion never interrupts
    const t0 = m.engine.now;
    expect(() => m.exec(disk(0).read(k.bsp, 5, 1))).toThrow(/ada0: read at sector 5 failed: READ DMA of 1 sectors at 5: timeout after 5 s/);
    expect(m.engine.now - t0).toBeGreaterThanOrEqual(5e9);
  });

  it('uses 48-bit commands past LBA 2^28', () => {
    const sparse = new Map<number, Uint8Array>();
    const big: DiskImage = {
      path: 'big.img',
      format: 'raw',
      size: 2 ** 29 * 512,
      readOnly: false,
      read(offset, into) {
        if (offset + into.length > this.size) throw new GuestError('EINVAL', 'past the end');
        for (let i = 0; i < into.length; i += 512) into.set(sparse.get(offset + i) ?? new Uint8Array(512), i);
      },
      write(offset, data) {
        for (let i = 0; i < data.length; i += 512) sparse.set(offset + i, data.slice(i, i + 512));
      },
      flush() {},
      close() {},
    };
    const { m, k, disk, log } = boot(['big.img,raw,hda'], { open: () => big, openCount: 1 });
    expect(log).toContain('ada0: 262144MB (536870912 512 byte sectors)');
    const lba = 2 ** 28 + 5;
    const data = new Uint8Array(1024).fill(0xee);
    const before = m.totalExits;
    m.exec(disk(0).write(k.bsp, lba, data));
    expect(m.totalExits - before).toBe(16); // four more task-file writes than a 28-bit command
    expect(sparse.get(lba * 512)).toEqual(new Uint8Array(512).fill(0xee));
    expect(m.exec(disk(0).read(k.bsp, lba, 2))).toEqual(data);
  });
});
