/** Images qemu-img creates, written by us, judged by qemu: `qemu-img check` clean, `qemu-img compare` equal to a raw twin, `qemu-io` reads our patterns. */
import { afterAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../../../plugins/dom0/disk-images/store.js';
import { check, compare, createImage, pattern, qemuIo, tempDir, writeRawTwin } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const MiB = 1 << 20;
const SIZE = 1024 * MiB;

/** Aligned, unaligned across clusters, far and sparse, overwrites of allocated data, the last sector. */
function writesFor(): { offset: number; data: Uint8Array }[] {
  return [
    { offset: 0, data: pattern(1, 64 * 1024) },
    { offset: 12345, data: pattern(2, 100_000) },
    { offset: SIZE - 8192, data: new Uint8Array(4096).fill(0xab) },
    { offset: 300 * MiB + 77, data: pattern(3, MiB + 3) },
    { offset: 20000, data: pattern(4, 3000) },
    { offset: SIZE - 512, data: pattern(5, 512) },
    { offset: 700 * MiB, data: new Uint8Array(128 * 1024).fill(0x5c) },
    { offset: 700 * MiB + 4096, data: pattern(6, 10) },
  ];
}

const CONFIGS = [
  { version: 3, compat: '1.1', cluster: 512 },
  { version: 3, compat: '1.1', cluster: 4096 },
  { version: 3, compat: '1.1', cluster: 65536 },
  { version: 3, compat: '1.1', cluster: 2 * MiB },
  { version: 2, compat: '0.10', cluster: 512 },
  { version: 2, compat: '0.10', cluster: 4096 },
  { version: 2, compat: '0.10', cluster: 65536 },
  { version: 2, compat: '0.10', cluster: 2 * MiB },
];

describe.each(CONFIGS)('qcow2 v$version (compat=$compat), $cluster-byte clusters', ({ version, compat, cluster }) => {
  const name = `v${version}-${cluster}`;
  const image = tmp.path(`${name}.qcow2`);
  const twin = tmp.path(`${name}.raw`);
  const writes = writesFor();

  it('takes our writes so that qemu-img check finds no error and no leak, and compare finds the raw twin identical', () => {
    createImage(image, 'qcow2', SIZE, [`compat=${compat}`, `cluster_size=${cluster}`]);
    const store = new ImageStore();
    const disk = store.open(image);
    expect(disk).toMatchObject({ format: 'qcow2', size: SIZE, readOnly: false });
    for (const w of writes) disk.write(w.offset, w.data);
    disk.flush();
    disk.close();
    expect(store.openCount).toBe(0);

    const result = check(image);
    expect(result, result.output).toMatchObject({ status: 0, errors: 0, corruptions: 0, leaks: 0 });
    writeRawTwin(twin, writes, SIZE);
    const same = compare(twin, image);
    expect(same.status, same.output).toBe(0);
  });

  it('reads back through qemu-io with the patterns we wrote, and through us after reopening', () => {
    expect(qemuIo(image, 'qcow2', `read -P 0xab ${SIZE - 8192} 4096`).status).toBe(0);
    expect(qemuIo(image, 'qcow2', `read -P 0x5c ${700 * MiB} 4096`, `read -P 0x5c ${700 * MiB + 4106} ${128 * 1024 - 4106}`).status).toBe(0);
    expect(qemuIo(image, 'qcow2', `read -P 0 ${500 * MiB} 65536`).status).toBe(0);
    expect(qemuIo(image, 'qcow2', `read -P 0xab ${SIZE - 8192} 4097`).status).toBe(1);

    const disk = new ImageStore().open(image, { readOnly: true });
    const model = new Uint8Array(2 * MiB);
    const got = new Uint8Array(2 * MiB);
    for (const w of writes) {
      // The model of the 2 MiB around each write: every later write that overlaps it applied in order.
      const base = Math.max(0, Math.min(SIZE - model.length, w.offset - 4096));
      model.fill(0);
      for (const o of writes) {
        const from = Math.max(o.offset, base);
        const to = Math.min(o.offset + o.data.length, base + model.length);
        if (from < to) model.set(o.data.subarray(from - o.offset, to - o.offset), from - base);
      }
      disk.read(base, got);
      expect(Buffer.compare(got, model), `around offset ${w.offset}`).toBe(0);
    }
    disk.close();
  });
});
