/** Reading what QEMU wrote: data clusters, zero clusters, discarded clusters, compressed images, backing chains; and writing over them. */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../../../plugins/dom0/disk-images/store.js';
import { check, compare, createImage, guestError, pattern, qemuImg, qemuIo, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const KiB = 1024;
const MiB = 1 << 20;

function readAll(path: string): Uint8Array {
  const disk = new ImageStore().open(path, { readOnly: true });
  const out = new Uint8Array(disk.size);
  disk.read(0, out);
  disk.close();
  return out;
}

describe.each([
  { compat: '1.1', cluster: 65536 },
  { compat: '0.10', cluster: 4096 },
])('data qemu-io wrote (compat=$compat, $cluster-byte clusters)', ({ compat, cluster }) => {
  it('reads qemu-io patterns, unaligned ones included, and zeros where nothing was written', () => {
    const image = tmp.path(`qemu-written-${compat}.qcow2`);
    createImage(image, 'qcow2', 8 * MiB, [`compat=${compat}`, `cluster_size=${cluster}`]);
    expect(qemuIo(image, 'qcow2', 'write -P 0x5a 0 64k', 'write -P 0x33 100000 5000', 'write -P 0x77 3M 128k').status).toBe(0);
    const disk = new ImageStore().open(image, { readOnly: true });
    const got = new Uint8Array(4 * MiB);
    disk.read(0, got);
    const expected = new Uint8Array(4 * MiB);
    expected.fill(0x5a, 0, 64 * KiB);
    expected.fill(0x33, 100000, 105000);
    expected.fill(0x77, 3 * MiB, 3 * MiB + 128 * KiB);
    expect(Buffer.compare(got, expected)).toBe(0);
    const odd = new Uint8Array(7);
    disk.read(99998, odd);
    expect([...odd]).toEqual([0, 0, 0x33, 0x33, 0x33, 0x33, 0x33]);
    disk.close();
  });
});

describe('zero and discarded clusters (v3)', () => {
  it('reads a zero-flagged cluster as zeros even over a backing file, and a discarded one as the backing data', () => {
    const base = tmp.path('zero-base.raw');
    writeFileSync(base, new Uint8Array(4 * MiB).fill(0xee));
    const image = tmp.path('zero.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'zero-base.raw', '-F', 'raw', image);
    expect(qemuIo(image, 'qcow2', 'write -P 0x77 1M 256k', 'write -z 1M 64k', 'write -z 2M 64k', 'discard 1152k 64k').status).toBe(0);
    expect(check(image).status).toBe(0);
    const got = readAll(image);
    const expected = new Uint8Array(4 * MiB).fill(0xee);
    expected.fill(0x77, MiB, MiB + 256 * KiB);
    expected.fill(0, MiB, MiB + 64 * KiB);
    expected.fill(0, 2 * MiB, 2 * MiB + 64 * KiB);
    // A discarded cluster of an image with a backing file is left to qemu's choice (zero flag or unallocated): take qemu's word.
    const discarded = qemuIo(image, 'qcow2', 'read -P 0 1152k 64k').status === 0 ? 0 : 0xee;
    expected.fill(discarded, MiB + 128 * KiB, MiB + 192 * KiB);
    expect(Buffer.compare(got, expected)).toBe(0);
  });
});

describe.each([512, 4096, 65536, 2 * MiB])('compressed images (qemu-img convert -c), %i-byte clusters', (cluster) => {
  it('inflates every cluster to the source bytes, and a write over a compressed cluster keeps its neighbours', () => {
    const source = tmp.path(`comp-src-${cluster}.raw`);
    const size = Math.max(MiB, 3 * cluster);
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i += 8192) bytes.set(pattern(i, 4096).map((b) => b & 0x0f), i); // compressible, not trivial
    bytes.fill(0x41, size - size / 3);
    writeFileSync(source, bytes);
    const image = tmp.path(`comp-${cluster}.qcow2`);
    qemuImg('convert', '-c', '-O', 'qcow2', '-o', `cluster_size=${cluster}`, source, image);
    expect(qemuImg('info', image)).toMatch(/compression type: zlib/);
    expect(Buffer.compare(readAll(image), bytes)).toBe(0);

    const disk = new ImageStore().open(image);
    const patch = pattern(99, 3000);
    const spanning = pattern(98, Math.min(2 * cluster, 300_000));
    const spanAt = size - spanning.length - 7;
    disk.write(cluster + 100, patch);
    disk.write(spanAt, spanning);
    disk.close();
    bytes.set(patch, cluster + 100);
    bytes.set(spanning, spanAt);
    writeFileSync(source, bytes);
    const result = check(image);
    expect(result, result.output).toMatchObject({ status: 0, errors: 0, leaks: 0 });
    expect(compare(source, image).status).toBe(0);
  });
});

describe('backing chains', () => {
  const base = tmp.path('base.raw');
  const mid = tmp.path('mid.qcow2');
  const top = tmp.path('top.qcow2');
  const baseBytes = pattern(7, 4 * MiB);

  it('reads through qcow2 → qcow2 → raw with relative names, the nearest layer winning', () => {
    writeFileSync(base, baseBytes);
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', '-o', 'cluster_size=4096', mid);
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', top, String(6 * MiB));
    expect(qemuIo(mid, 'qcow2', 'write -P 0x11 64k 8k').status).toBe(0);
    expect(qemuIo(top, 'qcow2', 'write -P 0x22 68k 1k').status).toBe(0);
    const expected = new Uint8Array(6 * MiB);
    expected.set(baseBytes);
    expected.fill(0x11, 64 * KiB, 72 * KiB);
    expected.fill(0x22, 68 * KiB, 69 * KiB);
    const store = new ImageStore();
    const disk = store.open(top, { readOnly: true });
    expect(disk.size).toBe(6 * MiB);
    const got = new Uint8Array(disk.size);
    disk.read(0, got);
    expect(Buffer.compare(got, expected)).toBe(0);
    expect(store.openCount).toBe(1);
    disk.close();
    expect(store.openCount).toBe(0);
  });

  it('copies a partly written cluster up from the backing file, leaving the backing files untouched', () => {
    const midBefore = readFileSync(mid);
    const disk = new ImageStore().open(top);
    disk.write(2 * MiB + 10, pattern(8, 100));
    disk.write(4 * MiB + 100, pattern(9, 100)); // past the end of the 4 MiB chain: the rest reads as zeros
    disk.close();
    expect(Buffer.compare(readFileSync(base), baseBytes)).toBe(0);
    expect(Buffer.compare(readFileSync(mid), midBefore)).toBe(0);
    expect(check(top).status).toBe(0);
    const flat = tmp.path('flat.raw');
    const expected = new Uint8Array(6 * MiB);
    expected.set(baseBytes);
    expected.fill(0x11, 64 * KiB, 72 * KiB);
    expected.fill(0x22, 68 * KiB, 69 * KiB);
    expected.set(pattern(8, 100), 2 * MiB + 10);
    expected.set(pattern(9, 100), 4 * MiB + 100);
    writeFileSync(flat, expected);
    const same = compare(flat, top);
    expect(same.status, same.output).toBe(0);
  });

  it('names both files when a backing file is missing, and stops a chain that loops', () => {
    const orphan = tmp.path('orphan.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'gone.raw', '-F', 'raw', '-u', orphan, '1M');
    const missing = guestError(() => new ImageStore().open(orphan));
    expect(missing.code).toBe('ENOENT');
    expect(missing.message).toContain(orphan);
    expect(missing.message).toContain(tmp.path('gone.raw'));

    const a = tmp.path('loop-a.qcow2');
    const b = tmp.path('loop-b.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'loop-b.qcow2', '-F', 'qcow2', '-u', a, '1M');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'loop-a.qcow2', '-F', 'qcow2', '-u', b, '1M');
    const store = new ImageStore();
    const loop = guestError(() => store.open(a));
    expect(loop.code).toBe('EINVAL');
    expect(loop.message).toMatch(/backing chain is longer than 16/);
    expect(store.openCount).toBe(0);
  });
});
