import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseDiskSpec, type DiskSpec } from '../../../../core/config/diskspec.js';
import { ATA_CMD, ATA_E, ATA_S, BM_S, PRD_EOT, ideDisks, piixIdeModel, type PiixIde } from '../../../../plugins/device-models/ide/index.js';
import { xenPlatformModel } from '../../../../plugins/device-models/xen-platform/index.js';
import { IOREQ_TYPE } from '../../../../core/public/index.js';
import { hvmConfig, rig, type Guest } from '../../dom0/device-model/fakes.js';
import { FakeImages } from './fake-images.js';

const P = 0x1f0;
const PCTL = 0x3f6;
const S = 0x170;
const BM = 0xc000;
const SLOT = 2;

function disks(...specs: string[]): DiskSpec[] {
  return specs.map((s) => {
    const r = parseDiskSpec(s);
    if (r.value === undefined) throw new Error(`bad disk spec ${s}: ${r.errors.join('; ')}`);
    return r.value;
  });
}

function setup(specs: string[] = ['a.img,raw,hda,rw'], opts: { mode?: 'hvm' | 'pvhvm'; platform?: boolean } = {}) {
  const images = new FakeImages();
  const models = [...(opts.platform ? [xenPlatformModel] : []), piixIdeModel(() => images)];
  const r = rig(models, hvmConfig({ disk: disks(...specs) }), opts.mode ?? 'hvm');
  const ide = r.run.device('piix-ide') as PiixIde;
  const slot = opts.platform ? SLOT + 1 : SLOT;
  r.guest.cfgWrite(slot, 0x20, 4, BM);
  r.guest.cfgWrite(slot, 0x04, 2, 0x5);
  return { ...r, images, ide, slot };
}

/** Programs the task file of channel `base` and issues `cmd`. */
function issue(g: Guest, base: number, cmd: number, a: { lba?: number; count?: number; unit?: number; ext?: boolean } = {}): void {
  const lba = a.lba ?? 0;
  const count = a.count ?? 1;
  if (a.ext) {
    g.outb(base + 2, (count >> 8) & 0xff);
    g.outb(base + 3, Math.floor(lba / 2 ** 24) & 0xff);
    g.outb(base + 4, Math.floor(lba / 2 ** 32) & 0xff);
    g.outb(base + 5, Math.floor(lba / 2 ** 40) & 0xff);
  }
  g.outb(base + 2, count & 0xff);
  g.outb(base + 3, lba & 0xff);
  g.outb(base + 4, (lba >> 8) & 0xff);
  g.outb(base + 5, (lba >> 16) & 0xff);
  g.outb(base + 6, 0xe0 | ((a.unit ?? 0) << 4) | (a.ext ? 0 : (lba >> 24) & 0xf));
  g.outb(base + 7, cmd);
}

/** Reads `bytes` through the data port in 16-bit words. */
function pioRead(g: Guest, base: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 2) {
    const w = g.in(base, 2);
    out[i] = w & 0xff;
    out[i + 1] = w >> 8;
  }
  return out;
}

function sector(s: number): Uint8Array {
  return Uint8Array.from({ length: 512 }, (_, i) => (s * 7 + i) & 0xff);
}

describe('piix-ide: the PCI function', () => {
  it('is 8086:7010 class 0101 prog-if 0x80, no interrupt pin, BARs 0-3 unimplemented and BAR4 16 bytes of I/O', () => {
    const { guest } = setup();
    expect(guest.cfgRead(SLOT, 0x00, 4)).toBe(0x7010_8086);
    expect(guest.cfgRead(SLOT, 0x08, 4)).toBe(0x0101_8000);
    expect(guest.cfgRead(SLOT, 0x3d, 1)).toBe(0);
    for (const bar of [0x10, 0x14, 0x18, 0x1c, 0x24]) {
      guest.cfgWrite(SLOT, bar, 4, 0xffff_ffff);
      expect(guest.cfgRead(SLOT, bar, 4), `BAR at 0x${bar.toString(16)}`).toBe(0);
    }
    guest.cfgWrite(SLOT, 0x20, 4, 0xffff_ffff);
    expect(guest.cfgRead(SLOT, 0x20, 4)).toBe(0xffff_fff1);
    guest.cfgWrite(SLOT, 0x40, 2, 0x8000); // IDETIM: kept as written
    expect(guest.cfgRead(SLOT, 0x40, 2)).toBe(0x8000);
  });

  it('decodes the bus-master registers where BAR4 is placed, with the DMA-capable bits of the drives present', () => {
    const { guest, server } = setup(['a.img,raw,hda', 'b.img,raw,hdb']);
    expect(server.ranges).toContainEqual({ space: 'pio', start: BM, end: BM + 15 });
    expect(guest.inb(BM + 2) & (BM_S.DMA0 | BM_S.DMA1)).toBe(BM_S.DMA0 | BM_S.DMA1);
    expect(guest.inb(BM + 8 + 2) & (BM_S.DMA0 | BM_S.DMA1)).toBe(0);
    guest.out(BM + 4, 4, 0x1234_5677);
    expect(guest.in(BM + 4, 4)).toBe(0x1234_5674);
  });
});

describe('piix-ide: which disks', () => {
  it("follows libxl's rule: hd[a-d], xvd[a-d] and sd[a-d] by disk index; CD-ROMs and slots taken twice are left out with a reason", () => {
    const r = ideDisks(disks('a.img,,hda', 'b.img,,xvdb', 'c.img,,sdd', 'e.img,,xvde', 'x.img,,hda1', ',,hdc:cdrom,r', 'dup.img,,xvda'));
    expect(r.slots.map((s) => [s.index, s.spec.vdev])).toEqual([[0, 'hda'], [1, 'xvdb'], [3, 'sdd']]);
    expect(r.skipped).toEqual(['hdc: CD-ROM drives (ATAPI) are not emulated', 'xvda: IDE slot 0 is taken by hda']);
  });

  it('opens each image once at create, read-only for access=ro, and names a missing provider or file', () => {
    const { images, ide, logs } = setup(['a.img,raw,hda', 'b.qcow2,qcow2,hdc,ro']);
    expect(images.opened).toEqual([{ path: 'a.img', options: { format: 'raw', readOnly: false } }, { path: 'b.qcow2', options: { format: 'qcow2', readOnly: true } }]);
    expect(ide.drives().map((d) => d.vdev)).toEqual(['hda', 'hdc']);
    expect(logs.lines('info').some((l) => l.includes('dom5: piix-ide: hdc → ide1 master: b.qcow2 (2048 sectors, read-only)'))).toBe(true);

    const none = rig([piixIdeModel(() => undefined)], hvmConfig({ disk: disks('a.img,raw,hda') }));
    expect(none.run.devices).toEqual([]);
    expect(none.logs.lines('error').join('\n')).toMatch(/dom5: device piix-ide could not be created: disk hda \(a\.img\): no DiskImages provider/);
    const missing = rig([piixIdeModel(() => new FakeImages())], hvmConfig({ disk: disks('missing.img,raw,hda') }));
    expect(missing.logs.lines('error').join('\n')).toContain('missing.img: no such file');
    expect(missing.server.ranges).toEqual([{ space: 'pio', start: 0xcf8, end: 0xcff }]);
  });
});

describe('piix-ide: ATA over PIO', () => {
  it('IDENTIFY DEVICE gives QEMU HARDDISK, LBA48 and the sizes, with DRQ and IRQ 14 that a status read acknowledges', () => {
    const { guest, server } = setup();
    issue(guest, P, ATA_CMD.IDENTIFY_DEVICE);
    expect(server.level(14)).toBe(true);
    expect(guest.inb(PCTL)).toBe(ATA_S.DRDY | ATA_S.DSC | ATA_S.DRQ);
    expect(server.level(14)).toBe(true); // alternate status leaves INTRQ alone
    expect(guest.inb(P + 7)).toBe(ATA_S.DRDY | ATA_S.DSC | ATA_S.DRQ);
    expect(server.level(14)).toBe(false);
    const id = pioRead(guest, P, 512);
    const word = (n: number): number => id[2 * n]! | (id[2 * n + 1]! << 8);
    const text = (from: number, words: number): string => Array.from({ length: words }, (_, i) => String.fromCharCode(word(from + i) >> 8, word(from + i) & 0xff)).join('').trim();
    expect(text(27, 20)).toBe('QEMU HARDDISK');
    expect(text(10, 10)).toBe('QM00001');
    expect(text(23, 4)).toBe('2.5+');
    expect(word(60) | (word(61) << 16)).toBe(2048);
    expect(word(100)).toBe(2048);
    expect(word(83) & (1 << 10)).not.toBe(0);
    expect(word(49) & 0x300).toBe(0x300);
    expect(word(80)).toBe(0xf0);
    expect(id.reduce((a, b) => a + b, 0) & 0xff).toBe(0);
    expect(guest.inb(P + 7)).toBe(ATA_S.DRDY | ATA_S.DSC);
  });

  it('READ SECTORS offers each sector with DRQ and an interrupt; 32-bit data accesses work too', () => {
    const { guest, server, tasks } = setup();
    issue(guest, P, ATA_CMD.READ_SECTORS, { lba: 5, count: 2 });
    expect(guest.inb(P + 7) & ATA_S.DRQ).toBe(ATA_S.DRQ); // the interrupt is acknowledged, as a driver does
    const first = pioRead(guest, P, 512);
    expect(first).toEqual(sector(5));
    expect(server.edges(14)).toBe(2);
    expect(guest.inb(P + 7) & ATA_S.DRQ).toBe(ATA_S.DRQ);
    const second = new Uint8Array(512);
    for (let i = 0; i < 512; i += 4) new DataView(second.buffer).setUint32(i, guest.in(P, 4), true);
    expect(second).toEqual(sector(6));
    expect(guest.inb(P + 7)).toBe(ATA_S.DRDY | ATA_S.DSC);
    expect(tasks.charged.copyPerByte).toBe(1024);
  });

  it('WRITE SECTORS EXT takes 48-bit addresses, asks for the first block without an interrupt, and HOB reads back the high bytes', () => {
    const { guest, server, images } = setup();
    issue(guest, P, ATA_CMD.WRITE_SECTORS_EXT, { lba: 2000, count: 2, ext: true });
    guest.outb(PCTL, 0x80);
    expect(guest.inb(P + 2)).toBe(0);
    guest.outb(PCTL, 0x00);
    expect(guest.inb(P + 2)).toBe(2);
    expect(guest.inb(P + 7)).toBe(ATA_S.DRDY | ATA_S.DSC | ATA_S.DRQ);
    expect(server.edges(14)).toBe(0);
    for (let i = 0; i < 512; i += 2) guest.out(P, 2, 0xabcd);
    expect(server.edges(14)).toBe(1);
    expect(guest.inb(P + 7) & ATA_S.DRQ).toBe(ATA_S.DRQ);
    for (let i = 0; i < 512; i += 2) guest.out(P, 2, 0x1234);
    expect(server.edges(14)).toBe(2);
    expect(guest.inb(P + 7)).toBe(ATA_S.DRDY | ATA_S.DSC);
    const img = images.image('a.img').bytes;
    expect([img[2000 * 512], img[2000 * 512 + 1], img[2001 * 512], img[2001 * 512 + 1]]).toEqual([0xcd, 0xab, 0x34, 0x12]);
  });

  it('the secondary channel answers at 0x170 on IRQ 15; an absent drive reads 0 and ignores commands', () => {
    const { guest, server } = setup(['c.img,raw,hdc']);
    issue(guest, S, ATA_CMD.IDENTIFY_DEVICE);
    expect(server.level(15)).toBe(true);
    expect(server.level(14)).toBe(false);
    guest.outb(S + 6, 0xf0); // the slave, which is not there
    expect(guest.inb(S + 7)).toBe(0);
    guest.outb(S + 7, ATA_CMD.IDENTIFY_DEVICE);
    expect(guest.inb(S + 7)).toBe(0);
    expect(guest.inb(P + 7)).toBe(0); // no drives at all on the primary
  });

  it('software reset leaves the ATA signature and "diagnostics passed"', () => {
    const { guest } = setup();
    issue(guest, P, ATA_CMD.READ_SECTORS, { lba: 9, count: 3 });
    guest.outb(PCTL, 0x04);
    expect(guest.inb(PCTL) & ATA_S.BSY).toBe(ATA_S.BSY);
    guest.outb(PCTL, 0x00);
    expect([guest.inb(P + 1), guest.inb(P + 2), guest.inb(P + 3), guest.inb(P + 4), guest.inb(P + 5), guest.inb(P + 7)]).toEqual([1, 1, 1, 0, 0, ATA_S.DRDY | ATA_S.DSC]);
  });

  it('FLUSH CACHE reaches the image; SET FEATURES turns the write cache off so every write is flushed', () => {
    const { guest, images } = setup();
    issue(guest, P, ATA_CMD.FLUSH_CACHE_EXT);
    expect(images.image('a.img').flushes).toBe(1);
    expect(guest.inb(P + 7)).toBe(ATA_S.DRDY | ATA_S.DSC);
    guest.outb(P + 1, 0x82);
    issue(guest, P, ATA_CMD.SET_FEATURES);
    expect(guest.inb(P + 7)).toBe(ATA_S.DRDY | ATA_S.DSC);
    issue(guest, P, ATA_CMD.WRITE_SECTORS, { lba: 1 });
    for (let i = 0; i < 256; i++) guest.out(P, 2, 0);
    expect(images.image('a.img').flushes).toBe(2);
  });
});

describe('piix-ide: bus-master DMA', () => {
  const PRD = 0x1000;

  function prd(server: { guestMemory: { writeU32(a: number, v: number): void; writeU16(a: number, v: number): void } }, entries: [number, number][]): void {
    entries.forEach(([addr, len], i) => {
      server.guestMemory.writeU32(PRD + 8 * i, addr);
      server.guestMemory.writeU16(PRD + 8 * i + 4, len & 0xffff);
      server.guestMemory.writeU16(PRD + 8 * i + 6, i === entries.length - 1 ? PRD_EOT : 0);
    });
  }

  it('READ DMA scatters the sectors through the PRD table into guest memory as Dom0 work, then interrupts', () => {
    const { guest, server, clock, tasks } = setup();
    prd(server, [[0x2000, 512], [0x8000, 1024]]);
    guest.out(BM + 4, 4, PRD);
    issue(guest, P, ATA_CMD.READ_DMA, { lba: 10, count: 3 });
    guest.outb(BM, 0x09); // start, write to memory
    expect(guest.inb(BM + 2) & BM_S.ACTIVE).toBe(BM_S.ACTIVE);
    expect(server.level(14)).toBe(false); // not yet: the transfer is a task of its own
    const before = tasks.cycles;
    clock.advance(0);
    expect(server.level(14)).toBe(true);
    expect(server.guestMemory.read(0x2000, 512)).toEqual(sector(10));
    expect(server.guestMemory.read(0x8000, 512)).toEqual(sector(11));
    expect(server.guestMemory.read(0x8200, 512)).toEqual(sector(12));
    expect(guest.inb(BM + 2) & (BM_S.ACTIVE | BM_S.INTR | BM_S.ERROR)).toBe(BM_S.INTR);
    guest.outb(BM + 2, BM_S.INTR);
    expect(guest.inb(BM + 2) & BM_S.INTR).toBe(0);
    guest.outb(BM, 0);
    expect(guest.inb(P + 7)).toBe(ATA_S.DRDY | ATA_S.DSC);
    expect(tasks.cycles - before).toBeGreaterThanOrEqual(2 * 15_000);
    expect(tasks.charged.copyPerByte).toBe(1536);
  });

  it('WRITE DMA EXT gathers guest memory onto the disk, whichever of command and START comes first', () => {
    const { guest, server, clock, images } = setup();
    server.guestMemory.write(0x3000, new Uint8Array(1024).fill(0x5a));
    prd(server, [[0x3000, 0]]); // 0 = 64 KiB, cut to the transfer
    guest.out(BM + 4, 4, PRD);
    guest.outb(BM, 0x01);
    issue(guest, P, ATA_CMD.WRITE_DMA_EXT, { lba: 100, count: 2, ext: true });
    clock.advance(0);
    expect(images.image('a.img').bytes.subarray(100 * 512, 102 * 512).every((b) => b === 0x5a)).toBe(true);
    expect(images.image('a.img').bytes[102 * 512]).toBe(sector(102)[0]);
    expect(server.level(14)).toBe(true);
  });

  it('clearing START before the transfer ran cancels it: nothing moves, the command is aborted', () => {
    const { guest, server, clock } = setup();
    prd(server, [[0x2000, 512]]);
    guest.out(BM + 4, 4, PRD);
    issue(guest, P, ATA_CMD.READ_DMA, { lba: 1 });
    guest.outb(BM, 0x09);
    guest.outb(BM, 0x08);
    clock.advance(0);
    expect(server.guestMemory.read(0x2000, 4)).toEqual(new Uint8Array(4));
    expect(guest.inb(P + 7) & ATA_S.ERR).toBe(ATA_S.ERR);
  });
});

describe('piix-ide: hostile or mistaken guests', () => {
  const PRD = 0x1000;

  function dmaRead(g: Guest, server: { guestMemory: { writeU32(a: number, v: number): void; writeU16(a: number, v: number): void } }, entry: [number, number], lba = 0, count = 1, bmCmd = 0x09) {
    server.guestMemory.writeU32(PRD, entry[0]);
    server.guestMemory.writeU16(PRD + 4, entry[1]);
    server.guestMemory.writeU16(PRD + 6, PRD_EOT);
    g.out(BM + 4, 4, PRD);
    issue(g, P, ATA_CMD.READ_DMA, { lba, count });
    g.outb(BM, bmCmd);
  }

  it('a PRD entry past guest memory sets bus-master ERROR and aborts the command, with a warning naming the device and domain', () => {
    const { guest, server, clock, logs } = setup();
    dmaRead(guest, server, [0x00ff_f000, 0x2000]); // the fake guest has 1 MiB
    clock.advance(0);
    expect(guest.inb(BM + 2) & (BM_S.ERROR | BM_S.ACTIVE | BM_S.INTR)).toBe(BM_S.ERROR | BM_S.INTR);
    expect(guest.inb(P + 7)).toBe(ATA_S.DRDY | ATA_S.ERR);
    expect(guest.inb(P + 1)).toBe(ATA_E.ABRT);
    expect(logs.lines('warn').join('\n')).toMatch(/dom5: piix-ide: ide0: READ DMA of 1 sectors at 0 on hda: .*outside guest memory/);
  });

  it('a PRD table outside memory, one too short for the command, and the wrong direction all fail the same way', () => {
    for (const [entry, count, bm, reason] of [
      [[0x2000, 512], 2, 0x09, /describes 512 bytes, the command moves 1024/],
      [[0x2000, 512], 1, 0x01, /programmed for the other direction/],
    ] as const) {
      const { guest, server, clock, logs } = setup();
      dmaRead(guest, server, [...entry] as [number, number], 0, count, bm);
      clock.advance(0);
      expect(guest.inb(BM + 2) & BM_S.ERROR).toBe(BM_S.ERROR);
      expect(logs.lines('warn').join('\n')).toMatch(reason);
    }
    const { guest, clock, logs } = setup();
    guest.out(BM + 4, 4, 0x00ff_fff0);
    issue(guest, P, ATA_CMD.READ_DMA, { lba: 0 });
    guest.outb(BM, 0x09);
    clock.advance(0);
    expect(logs.lines('warn').join('\n')).toMatch(/PRD entry 0 at 0xfffff0 is not in guest memory/);
  });

  it('a sector past the end gets IDNF, a read-only disk refuses writes, unknown commands are aborted; the image is untouched', () => {
    const { guest, images, logs } = setup(['a.img,raw,hda', 'r.img,raw,hdb,ro']);
    issue(guest, P, ATA_CMD.READ_SECTORS_EXT, { lba: 2047, count: 2, ext: true });
    expect(guest.inb(P + 7)).toBe(ATA_S.DRDY | ATA_S.ERR);
    expect(guest.inb(P + 1)).toBe(ATA_E.IDNF | ATA_E.ABRT);
    issue(guest, P, ATA_CMD.WRITE_DMA, { lba: 0, unit: 1 });
    expect(guest.inb(P + 1)).toBe(ATA_E.ABRT);
    issue(guest, P, ATA_CMD.WRITE_SECTORS, { lba: 0, unit: 1 });
    expect(guest.inb(P + 7) & ATA_S.DRQ).toBe(0);
    issue(guest, P, 0xa1); // IDENTIFY PACKET DEVICE: not an ATAPI drive
    expect(guest.inb(P + 1)).toBe(ATA_E.ABRT);
    expect(images.image('r.img').writes).toBe(0);
    expect(logs.lines('warn').join('\n')).toContain('dom5: piix-ide: ide0: hdb is read-only (access=ro): WRITE DMA at 0 refused');
  });

  it('an image that fails to read gives an uncorrectable error; data-port junk and rep string I/O do not upset it', () => {
    const { guest, images, logs } = setup();
    images.image('a.img').failReads = true;
    issue(guest, P, ATA_CMD.READ_SECTORS, { lba: 3 });
    expect(guest.inb(P + 1)).toBe(ATA_E.UNC | ATA_E.ABRT);
    expect(guest.in(P, 2)).toBe(0);
    guest.out(P, 4, 0xffff_ffff);
    guest.raw(IOREQ_TYPE.pio, P, 2, true, 0x4000, { count: 300, ptr: true });
    expect(logs.lines('warn').join('\n')).toContain('read of the data port with no data ready');
    expect(logs.lines('error')).toEqual([]);
  });
});

describe('piix-ide: register junk', () => {
  it('random accesses to the command, control and bus-master registers never throw out of the device model', () => {
    const { guest, server, clock, logs } = setup(['a.img,raw,hda', 'r.img,raw,hdb,ro']);
    server.guestMemory.writeU32(0x1000, 0x2000);
    server.guestMemory.writeU32(0x1004, 0x8000_0200);
    const port = fc.oneof(fc.integer({ min: P, max: P + 7 }), fc.constant(PCTL), fc.integer({ min: BM, max: BM + 15 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(port, fc.constantFrom(1, 2, 4), fc.integer({ min: 0, max: 0xffff_ffff }), fc.boolean()), { maxLength: 60 }), (ops) => {
        // Accesses that run past a register block are split by the bus, as Xen's would be.
        for (const [at, size, value, read] of ops) {
          if (read) guest.in(at, size);
          else guest.out(at, size, size === 4 ? value : value % 2 ** (8 * size));
        }
        clock.advance(0);
      }),
      { numRuns: 80, seed: 11 },
    );
    expect(logs.lines('error')).toEqual([]);
  });
});

describe('piix-ide: unplug and teardown', () => {
  it("the platform device's UNPLUG_ALL_IDE_DISKS makes the disks vanish and closes their images (flushed)", () => {
    const { guest, images, ide } = setup(['a.img,raw,hda', 'b.img,raw,hdb', 'c.img,raw,hdc', ',,hdd:cdrom,r'], { mode: 'pvhvm', platform: true });
    guest.out(0x10, 2, 0x1);
    expect(ide.drives()).toEqual([]);
    expect(guest.inb(P + 7)).toBe(0);
    expect(guest.inb(S + 7)).toBe(0);
    expect([...images.images.values()].every((i) => i.closed && i.flushes === 1)).toBe(true);
  });

  it('UNPLUG_AUX_IDE_DISKS keeps the primary master; NICs-only leaves the disks alone', () => {
    const { guest, images, ide } = setup(['a.img,raw,hda', 'b.img,raw,hdb', 'c.img,raw,hdc'], { mode: 'pvhvm', platform: true });
    guest.out(0x10, 2, 0x2);
    expect(ide.drives()).toHaveLength(3);
    guest.out(0x10, 2, 0x4);
    expect(ide.drives().map((d) => d.vdev)).toEqual(['hda']);
    expect(images.image('a.img').closed).toBe(false);
    issue(guest, P, ATA_CMD.IDENTIFY_DEVICE);
    expect(guest.inb(P + 7) & ATA_S.DRQ).toBe(ATA_S.DRQ);
  });

  it('stopping the device model closes every image and releases the ports', () => {
    const { run, images, server } = setup(['a.img,raw,hda', 'c.img,raw,hdc']);
    run.stop();
    expect(images.openCount).toBe(0);
    expect(server.ranges).toEqual([]);
  });
});
