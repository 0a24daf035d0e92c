/** The DiskImages service: raw images, format probing, the contract's errors, open counts, one syscall per hot request, and the plugin in a booted host. */
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskImages, Value } from '../../../../core/api/index.js';
import { resolveHostDefinition } from '../../../../core/config/host.js';
import { Host } from '../../../../core/host/host.js';
import { coreFeaturesOf } from '../../../../core/cli/machine.js';
import { LazyCatalog } from '../../../../core/plugin-host/catalog.js';
import { IN_TREE_PLUGINS } from '../../../../plugins/catalog.js';
import diskImagesPlugin, { DiskImagesOptions } from '../../../../plugins/dom0/disk-images/index.js';
import { ImageFile } from '../../../../plugins/dom0/disk-images/file.js';
import { DEFAULT_QCOW2_OPTIONS } from '../../../../plugins/dom0/disk-images/qcow2.js';
import { ImageStore, openImageFile, probeFormat } from '../../../../plugins/dom0/disk-images/store.js';
import { compare, createImage, guestError, pattern, qemuImg, qemuIo, tempDir, writeRawTwin } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const KiB = 1024;
const MiB = 1 << 20;

/** An ImageFile that counts its positioned reads and writes (each is one system call). */
class CountingFile extends ImageFile {
  reads = 0;
  writes = 0;
  override readAt(into: Uint8Array, intoOffset: number, length: number, position: number): number {
    this.reads++;
    return super.readAt(into, intoOffset, length, position);
  }
  override writeAt(data: Uint8Array, dataOffset: number, length: number, position: number): void {
    this.writes++;
    super.writeAt(data, dataOffset, length, position);
  }
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('raw images', () => {
  it('are the file byte for byte: our writes match a twin written with plain pwrite, and qemu-io reads them', () => {
    const path = tmp.path('disk.raw');
    createImage(path, 'raw', 8 * MiB);
    const writes = [
      { offset: 0, data: pattern(1, 4096) },
      { offset: 12345, data: pattern(2, 70000) },
      { offset: 8 * MiB - 4096, data: new Uint8Array(4096).fill(0xab) },
    ];
    const store = new ImageStore();
    const disk = store.open(path);
    expect(disk).toMatchObject({ path, format: 'raw', size: 8 * MiB, readOnly: false });
    for (const w of writes) disk.write(w.offset, w.data);
    disk.flush();
    const back = new Uint8Array(70000);
    disk.read(12345, back);
    expect(Buffer.compare(back, writes[1]!.data)).toBe(0);
    disk.close();
    writeRawTwin(tmp.path('twin.raw'), writes, 8 * MiB);
    expect(compare(tmp.path('twin.raw'), path).status).toBe(0);
    expect(qemuIo(path, 'raw', `read -P 0xab ${8 * MiB - 4096} 4096`).status).toBe(0);
  });

  it('read as zeros where discarded', () => {
    const path = tmp.path('discard.raw');
    writeFileSync(path, new Uint8Array(3 * MiB).fill(0x33));
    const disk = new ImageStore().open(path);
    disk.discard!(1000, 2 * MiB);
    const got = new Uint8Array(3 * MiB);
    disk.read(0, got);
    const expected = new Uint8Array(3 * MiB).fill(0x33);
    expected.fill(0, 1000, 1000 + 2 * MiB);
    expect(Buffer.compare(got, expected)).toBe(0);
    disk.close();
  });

  it('must be a whole number of sectors to be opened read-write; read-only, the last sector is completed with zeros', () => {
    const path = tmp.path('odd.raw');
    writeFileSync(path, new Uint8Array(1000).fill(1));
    const error = guestError(() => new ImageStore().open(path));
    expect(error.code).toBe('EINVAL');
    expect(error.message).toBe(`disk image ${path}: raw image size 1000 is not a multiple of 512 bytes`);
    const disk = new ImageStore().open(path, { readOnly: true });
    expect(disk.size).toBe(1024);
    const tail = new Uint8Array(48);
    disk.read(976, tail);
    expect([...tail]).toEqual([...new Array<number>(24).fill(1), ...new Array<number>(24).fill(0)]);
    disk.close();
  });
});

describe('opening', () => {
  const qcow2 = tmp.path('probe.qcow2');
  beforeAll(() => createImage(qcow2, 'qcow2', 2 * MiB));

  it('probes the qcow2 magic, and gives raw access to the container when raw is asked for', () => {
    const store = new ImageStore();
    expect(store.open(qcow2, { readOnly: true }).format).toBe('qcow2');
    const container = store.open(qcow2, { format: 'raw', readOnly: true });
    expect(container.format).toBe('raw');
    const magic = new Uint8Array(4);
    container.read(0, magic);
    expect(new TextDecoder('latin1').decode(magic)).toBe('QFI\xfb');
    expect(store.openCount).toBe(2);
    store.closeAll();
    expect(store.openCount).toBe(0);
  });

  it('refuses a qcow2 magic written into a raw image whose format was probed, and allows it when raw was named', () => {
    const path = tmp.path('probed.raw');
    createImage(path, 'raw', MiB);
    const magic = Uint8Array.of(0x51, 0x46, 0x49, 0xfb);
    const store = new ImageStore();
    const probed = store.open(path);
    expect(probed.format).toBe('raw');
    const whole = guestError(() => probed.write(0, new Uint8Array([...magic, 0, 0, 0, 3])));
    expect(whole.code).toBe('EPERM');
    expect(whole.message).toMatch(/whose raw format was probed/);
    probed.write(0, Uint8Array.of(0x51, 0x46)); // half a magic is no header
    expect(guestError(() => probed.write(2, Uint8Array.of(0x49, 0xfb))).code).toBe('EPERM');
    probed.write(4, magic);
    probed.close();
    const named = store.open(path, { format: 'raw' });
    named.write(0, magic);
    named.close();
    const file = new ImageFile(path, true);
    expect(probeFormat(file)).toBe('qcow2');
    file.close();
  });

  it('counts open images; close is idempotent and everything after it is EBADF', () => {
    const store = new ImageStore();
    const a = store.open(qcow2);
    const b = store.open(tmp.path('disk.raw'), { readOnly: true });
    expect(store.openCount).toBe(2);
    a.close();
    a.close();
    expect(store.openCount).toBe(1);
    for (const call of [() => a.read(0, new Uint8Array(512)), () => a.write(0, new Uint8Array(512)), () => a.flush(), () => a.discard!(0, 512)]) {
      const error = guestError(call);
      expect(error.code).toBe('EBADF');
      expect(error.message).toBe(`disk image ${qcow2}: image is closed`);
    }
    b.close();
    expect(store.openCount).toBe(0);
  });

  it('lets a file have one writer and no reader beside it, under any name and through backing chains, as QEMU\'s locks do', () => {
    const store = new ImageStore();
    const base = tmp.path('lock-base.qcow2');
    createImage(base, 'qcow2', MiB);
    const overlay = tmp.path('lock-overlay.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', overlay);
    symlinkSync(base, tmp.path('lock-alias.qcow2'));
    const busy = (path: string, readOnly: boolean) => {
      const error = guestError(() => store.open(path, { readOnly }));
      expect(error.code).toBe('EBUSY');
      expect(error.message).toContain(`disk image ${path}: `);
    };

    const writer = store.open(base);
    busy(base, false);
    busy(base, true);
    busy(tmp.path('lock-alias.qcow2'), true);
    busy(overlay, true);
    expect(store.openCount).toBe(1);
    writer.close();

    const top = store.open(overlay);
    busy(base, false);
    const reader = store.open(tmp.path('lock-alias.qcow2'), { readOnly: true });
    const second = store.open(overlay.replace('lock-overlay', 'lock-base'), { readOnly: true });
    busy(overlay, true);
    top.close();
    reader.close();
    second.close();
    store.open(base).close();
    expect(store.openCount).toBe(0);
  });

  it('refuses writes to a read-only image with EROFS and ranges outside the disk with EINVAL', () => {
    const disk = new ImageStore().open(qcow2, { readOnly: true });
    expect(disk.readOnly).toBe(true);
    expect(guestError(() => disk.write(0, new Uint8Array(512))).code).toBe('EROFS');
    expect(guestError(() => disk.discard!(0, 512)).code).toBe('EROFS');
    for (const [offset, length] of [[-512, 512], [2 * MiB - 511, 512], [0.5, 512], [2 * MiB + 512, 0]] as const) {
      const error = guestError(() => disk.read(offset, new Uint8Array(length)));
      expect(error.code).toBe('EINVAL');
      expect(error.message).toContain(`disk image ${qcow2}: range of ${length} bytes at ${offset} is not within the disk`);
    }
    disk.read(2 * MiB, new Uint8Array(0));
    disk.close();
  });

  it('reports missing files, folders and unknown formats by name, and leaks no descriptor on failure', () => {
    const store = new ImageStore();
    const before = openFds();
    const missing = guestError(() => store.open(tmp.path('nope.qcow2')));
    expect(missing.code).toBe('ENOENT');
    expect(missing.message).toContain(`disk image ${tmp.path('nope.qcow2')}: cannot open`);
    mkdirSync(tmp.path('folder'));
    expect(guestError(() => store.open(tmp.path('folder'), { readOnly: true })).message).toBe(`disk image ${tmp.path('folder')}: not a regular file`);
    expect(guestError(() => store.open(qcow2, { format: 'vmdk' as 'raw' })).message).toMatch(/unknown image format "vmdk"/);
    const truncated = tmp.path('short.qcow2');
    writeFileSync(truncated, Uint8Array.of(0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3));
    expect(guestError(() => store.open(truncated)).code).toBe('EINVAL');
    expect(openFds()).toBe(before);
    expect(store.openCount).toBe(0);
  });
});

describe('the hot path', () => {
  it.each(['raw', 'qcow2'] as const)('%s: a 4 KiB read or write of allocated data is exactly one pread or pwrite', (format) => {
    const path = tmp.path(`hot.${format}`);
    createImage(path, format, 64 * MiB);
    const file = new CountingFile(path, false);
    const disk = openImageFile(file, 'auto', DEFAULT_QCOW2_OPTIONS);
    const span = 8 * MiB;
    disk.write(0, new Uint8Array(span).fill(1)); // allocates (qcow2) and warms the L2 cache
    const block = new Uint8Array(4096);
    disk.read(0, block);
    file.reads = file.writes = 0;
    for (let i = 0; i < 1000; i++) {
      const offset = ((i * 7919) % (span / 4096)) * 4096;
      disk.read(offset, block);
      disk.write(offset, block);
    }
    expect([file.reads, file.writes]).toEqual([1000, 1000]);
    disk.close();
  });

  it('keeps at most the configured L2 tables and still reads right when it must evict', () => {
    const path = tmp.path('evict.qcow2');
    createImage(path, 'qcow2', 64 * MiB, ['cluster_size=4096']); // one L2 table maps 2 MiB
    const file = new CountingFile(path, false);
    const disk = openImageFile(file, 'qcow2', { l2CacheBytes: 0, refcountCacheBytes: 0 });
    for (let t = 0; t < 16; t++) disk.write(t * 2 * MiB, pattern(t, 512));
    const got = new Uint8Array(512);
    file.reads = 0;
    for (let t = 0; t < 16; t++) {
      disk.read(t * 2 * MiB, got);
      expect(Buffer.compare(got, pattern(t, 512))).toBe(0);
    }
    expect(file.reads).toBeGreaterThan(16); // 4 tables cached for 16 used: misses re-read tables
    disk.close();
  });
});

describe('the disk-images plugin', () => {
  it('declares a dom0-service providing DISK_IMAGES, with cache options that default and refuse unknown keys', () => {
    expect(diskImagesPlugin).toMatchObject({ name: 'disk-images', kind: 'dom0-service', provides: ['DISK_IMAGES'], requires: [] });
    expect(Value.Default(DiskImagesOptions, {})).toEqual({ l2CacheBytes: 4 * MiB, refcountCacheBytes: MiB });
    expect(Value.Check(DiskImagesOptions, { l2CacheBytes: 1, extra: 1 })).toBe(false);
  });

  it('provides DiskImages in a booted host and closes what is left open when the host shuts down', async () => {
    const catalog = new LazyCatalog('test', {
      credit: IN_TREE_PLUGINS.credit!,
      'disk-images': { folder: 'plugins/dom0/disk-images', load: () => import('../../../../plugins/dom0/disk-images/index.js') },
    });
    const definition = { name: 'disks', seed: 1, cpus: 1, memory: '256MiB', dom0: { memory: '64MiB', vcpus: 1 }, plugins: ['credit', 'disk-images'], domains: [] };
    const resolved = resolveHostDefinition(definition, { file: 'test.yaml', loadDomainFile: () => ({ errors: [], warnings: [] }) });
    if (!resolved.host) throw new Error(resolved.errors.map((e) => e.message).join('\n'));
    mkdirSync(tmp.path('run'));
    const host = await Host.boot(resolved.host, { catalog, coreFeatures: await coreFeaturesOf(catalog), runDir: tmp.path('run') });
    expect(host.plugins.hasFeature('DISK_IMAGES')).toBe(true);
    const images = host.plugins.resolveAll(DiskImages)[0]!;
    const disk = images.open(qcow2Path());
    disk.write(0, new Uint8Array(512).fill(9));
    expect(images.openCount).toBe(1);
    await host.shutdown();
    expect(images.openCount).toBe(0);
    expect(guestError(() => disk.read(0, new Uint8Array(512))).code).toBe('EBADF');
  });
});

function qcow2Path(): string {
  const path = tmp.path('host.qcow2');
  createImage(path, 'qcow2', MiB);
  return path;
}
