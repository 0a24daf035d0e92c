/** Writing qcow2 the hard ways: clusters shared with internal snapshots, new refcount blocks, a refcount table that must grow, every refcount width, discard. */
import { copyFileSync, readFileSync, statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { DiskImage } from '../../../../core/api/index.js';
import { ImageStore } from '../../../../plugins/dom0/disk-images/store.js';
import { check, compare, createImage, pattern, qemuImg, qemuIo, tempDir, writeRawTwin } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const KiB = 1024;
const MiB = 1 << 20;

function expectClean(path: string): void {
  const result = check(path);
  expect(result, result.output).toMatchObject({ status: 0, errors: 0, corruptions: 0, leaks: 0 });
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

function bytesAt(disk: DiskImage, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  disk.read(offset, out);
  return out;
}

describe.each(['1.1', '0.10'])('internal snapshots (compat=%s)', (compat) => {
  it('copies shared clusters before writing, so qemu-img snapshot -a restores the old data and check stays clean', () => {
    const image = tmp.path(`snap-${compat}.qcow2`);
    createImage(image, 'qcow2', 16 * MiB, [`compat=${compat}`]);
    expect(qemuIo(image, 'qcow2', 'write -P 0x11 0 256k', 'write -P 0x12 1M 64k', 'write -P 0x13 8M 64k').status).toBe(0);
    qemuImg('snapshot', '-c', 's1', image);

    const disk = new ImageStore().open(image);
    disk.write(8 * KiB, new Uint8Array(4 * KiB).fill(0x21)); // part of a shared cluster in a shared L2 table
    disk.write(64 * KiB, new Uint8Array(64 * KiB).fill(0x22)); // a whole shared cluster
    disk.write(2 * MiB, new Uint8Array(5000).fill(0x23)); // never allocated
    disk.discard!(MiB, 64 * KiB); // a shared cluster let go
    disk.close();
    expectClean(image);
    expect(qemuIo(image, 'qcow2', 'read -P 0x11 0 8k', 'read -P 0x21 8k 4k', 'read -P 0x11 12k 52k', 'read -P 0x22 64k 64k', 'read -P 0x11 128k 128k').status).toBe(0);
    expect(qemuIo(image, 'qcow2', 'read -P 0x23 2M 5000', 'read -P 0 1M 64k', 'read -P 0x13 8M 64k').status).toBe(0);

    qemuImg('snapshot', '-c', 's2', image);
    const again = new ImageStore().open(image);
    again.write(8 * KiB, new Uint8Array(100).fill(0x31));
    again.write(8 * MiB + 10, new Uint8Array(100).fill(0x32));
    again.close();
    expectClean(image);

    const s1 = tmp.path(`snap-${compat}-s1.qcow2`);
    copyFileSync(image, s1);
    qemuImg('snapshot', '-a', 's1', s1);
    expectClean(s1);
    expect(qemuIo(s1, 'qcow2', 'read -P 0x11 0 256k', 'read -P 0x12 1M 64k', 'read -P 0 2M 64k', 'read -P 0x13 8M 64k').status).toBe(0);

    const s2 = tmp.path(`snap-${compat}-s2.qcow2`);
    copyFileSync(image, s2);
    qemuImg('snapshot', '-a', 's2', s2);
    const view = new ImageStore().open(s2, { readOnly: true });
    expect(same(bytesAt(view, 8 * KiB, 4 * KiB), new Uint8Array(4 * KiB).fill(0x21))).toBe(true);
    expect(same(bytesAt(view, 8 * MiB, 64 * KiB), new Uint8Array(64 * KiB).fill(0x13))).toBe(true);
    view.close();
  });
});

describe('refcount structures', () => {
  it('allocates new refcount blocks past the first one\'s coverage (512-byte clusters: 128 KiB per block)', () => {
    const image = tmp.path('refblocks.qcow2');
    createImage(image, 'qcow2', 64 * MiB, ['cluster_size=512']);
    const writes = [0, 1, 2, 3, 4, 5].map((i) => ({ offset: i * 7 * MiB + i * 1000, data: pattern(i, 96 * KiB + i) }));
    const disk = new ImageStore().open(image);
    for (const w of writes) disk.write(w.offset, w.data);
    disk.close();
    expect(statSync(image).size).toBeGreaterThan(600 * KiB);
    expectClean(image);
    const twin = tmp.path('refblocks.raw');
    writeRawTwin(twin, writes, 64 * MiB);
    expect(compare(twin, image).status).toBe(0);
  });

  it('grows the refcount table when the file outgrows it, moving it to the end of the file', () => {
    const image = tmp.path('grow.qcow2');
    // 512-byte clusters, 64-bit refcounts: 64 clusters per block, 64 blocks in a one-cluster table → 2 MiB of file.
    createImage(image, 'qcow2', 32 * MiB, ['cluster_size=512', 'refcount_bits=64']);
    const tableAt = () => new DataView(readFileSync(image).buffer).getUint32(52);
    const before = tableAt();
    const writes = [0, 1, 2, 3, 4, 5, 6].map((i) => ({ offset: i * 4 * MiB + 512 * i, data: pattern(10 + i, 700 * KiB) }));
    const disk = new ImageStore().open(image);
    for (const w of writes) disk.write(w.offset, w.data);
    disk.close();
    expect(statSync(image).size).toBeGreaterThan(4 * MiB);
    expect(tableAt()).toBeGreaterThan(2 * MiB);
    expect(before).toBeLessThan(4 * KiB);
    expectClean(image);
    const twin = tmp.path('grow.raw');
    writeRawTwin(twin, writes, 32 * MiB);
    expect(compare(twin, image).status).toBe(0);
  });

  it.each([1, 2, 4, 8, 32, 64])('keeps %i-bit refcounts right across several blocks', (bits) => {
    const image = tmp.path(`bits-${bits}.qcow2`);
    createImage(image, 'qcow2', 4 * MiB, ['cluster_size=512', `refcount_bits=${bits}`]);
    // A 512-byte refcount block counts 4096 / bits clusters: write a little past what the first one covers.
    const covered = (4096 / bits) * 512;
    const writes = [{ offset: 0, data: pattern(bits, covered + 3000) }, { offset: 3 * MiB + 5, data: pattern(bits + 1, 4000) }];
    const disk = new ImageStore().open(image);
    for (const w of writes) disk.write(w.offset, w.data);
    disk.discard!(8 * KiB, 8 * KiB);
    disk.write(8 * KiB + 512, pattern(bits + 2, 512)); // reuses a cluster the discard freed
    disk.close();
    expect(statSync(image).size).toBeGreaterThan(covered);
    expectClean(image);
    const twin = tmp.path(`bits-${bits}.raw`);
    writeRawTwin(twin, [...writes, { offset: 8 * KiB, data: new Uint8Array(8 * KiB) }, { offset: 8 * KiB + 512, data: pattern(bits + 2, 512) }], 4 * MiB);
    expect(compare(twin, image).status).toBe(0);
  });
});

describe('discard', () => {
  it.each([
    { name: 'v3 without backing file', compat: '1.1', backed: false },
    { name: 'v3 over a backing file', compat: '1.1', backed: true },
    { name: 'v2 without backing file', compat: '0.10', backed: false },
    { name: 'v2 over a backing file', compat: '0.10', backed: true },
  ])('$name: the range reads as zeros after, whole clusters are given back, check stays clean', ({ compat, backed }) => {
    const image = tmp.path(`discard-${compat}-${backed}.qcow2`);
    if (backed) {
      const base = tmp.path(`discard-base-${compat}.raw`);
      createImage(base, 'raw', 4 * MiB);
      expect(qemuIo(base, 'raw', 'write -P 0x99 0 4M').status).toBe(0);
      qemuImg('create', '-q', '-f', 'qcow2', '-o', `compat=${compat}`, '-b', base, '-F', 'raw', image);
    } else {
      createImage(image, 'qcow2', 4 * MiB, [`compat=${compat}`]);
    }
    const disk = new ImageStore().open(image);
    disk.write(0, new Uint8Array(MiB).fill(0x44));
    const allocated = statSync(image).size;
    disk.discard!(100 * KiB, 300 * KiB); // partial, 3 whole 64 KiB clusters... and partial
    disk.discard!(2 * MiB + 1000, 1000); // inside one cluster of the backing file's data
    disk.discard!(3 * MiB, 64 * KiB); // a whole cluster never written
    const edges = new Uint8Array(300 * KiB + 2);
    edges[0] = edges[edges.length - 1] = 0x44;
    expect(same(bytesAt(disk, 100 * KiB - 1, edges.length), edges)).toBe(true);
    expect(same(bytesAt(disk, 2 * MiB + 1000, 1000), new Uint8Array(1000))).toBe(true);
    expect(same(bytesAt(disk, 3 * MiB, 64 * KiB), new Uint8Array(64 * KiB))).toBe(true);
    disk.write(MiB, new Uint8Array(128 * KiB).fill(0x55)); // reuses the clusters given back
    disk.close();
    if (!(backed && compat === '0.10')) expect(statSync(image).size).toBe(allocated);
    expectClean(image);
    const expect0 = backed ? 0x99 : 0;
    expect(qemuIo(image, 'qcow2', 'read -P 0x44 0 100k', 'read -P 0 100k 300k', 'read -P 0x44 400k 624k', 'read -P 0x55 1M 128k').status).toBe(0);
    expect(qemuIo(image, 'qcow2', `read -P ${expect0} 2M 1000`, `read -P 0 ${2 * MiB + 1000} 1000`, 'read -P 0 3M 64k').status).toBe(0);
  });
});
