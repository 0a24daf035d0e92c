/** Properties: random writes, reads, discards and reopenings agree with an in-memory disk and leave qemu-img check clean; damaged metadata only ever yields GuestErrors. */
import { copyFileSync, openSync, closeSync, readFileSync, writeSync, writeFileSync, rmSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuestError, type DiskImage } from '../../../../core/api/index.js';
import { ImageStore } from '../../../../plugins/dom0/disk-images/store.js';
import { check, createImage, pattern, qemuImg, qemuIo, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const SIZE = 256 * 1024;

type Op =
  | { kind: 'write'; offset: number; length: number; seed: number }
  | { kind: 'read'; offset: number; length: number }
  | { kind: 'discard'; offset: number; length: number }
  | { kind: 'reopen' };

function ops(cluster: number): fc.Arbitrary<Op[]> {
  const range = fc.record({ offset: fc.integer({ min: 0, max: SIZE - 1 }), length: fc.integer({ min: 1, max: 3 * cluster + 700 }) }).map(({ offset, length }) => ({ offset, length: Math.min(length, SIZE - offset) }));
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.tuple(range, fc.nat()).map(([r, seed]) => ({ kind: 'write' as const, ...r, seed })) },
    { weight: 3, arbitrary: range.map((r) => ({ kind: 'read' as const, ...r })) },
    { weight: 1, arbitrary: range.map((r) => ({ kind: 'discard' as const, ...r })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  );
  return fc.array(op, { minLength: 1, maxLength: 25 });
}

const CONFIGS = [
  { name: 'v3, 512-byte clusters, a 4-table L2 cache', opts: ['cluster_size=512'], backed: false, snapshot: false, tinyCache: true },
  { name: 'v3, 4 KiB clusters, over a raw backing file', opts: ['cluster_size=4096'], backed: true, snapshot: false, tinyCache: false },
  { name: 'v2, 4 KiB clusters, with an internal snapshot', opts: ['cluster_size=4096', 'compat=0.10'], backed: false, snapshot: true, tinyCache: true },
];

describe.each(CONFIGS)('random I/O on qcow2 ($name)', ({ name, opts, backed, snapshot, tinyCache }) => {
  const template = tmp.path(`${name.replace(/\W+/g, '-')}.qcow2`);
  const initial = new Uint8Array(SIZE);
  const cluster = Number(/cluster_size=(\d+)/.exec(opts.join())![1]);

  beforeAll(() => {
    if (backed) {
      const base = tmp.path('prop-base.raw');
      initial.set(pattern(77, SIZE / 2));
      writeFileSync(base, initial);
      qemuImg('create', '-q', '-f', 'qcow2', ...opts.flatMap((o) => ['-o', o]), '-b', base, '-F', 'raw', template, String(SIZE));
    } else {
      createImage(template, 'qcow2', SIZE, opts);
    }
    if (snapshot) {
      expect(qemuIo(template, 'qcow2', 'write -P 0x3c 0 100k').status).toBe(0);
      initial.fill(0x3c, 0, 100 * 1024);
      qemuImg('snapshot', '-c', 'before', template);
    }
  });

  it('agrees with an in-memory disk and leaves qemu-img check clean', () => {
    const store = new ImageStore(tinyCache ? { l2CacheBytes: 0, refcountCacheBytes: 0 } : undefined);
    let run = 0;
    fc.assert(
      fc.property(ops(cluster), (sequence) => {
        const path = tmp.path(`prop-${run++}.qcow2`);
        copyFileSync(template, path);
        const model = initial.slice();
        let disk: DiskImage = store.open(path);
        for (const op of sequence) {
          if (op.kind === 'write') {
            const data = pattern(op.seed, op.length);
            disk.write(op.offset, data);
            model.set(data, op.offset);
          } else if (op.kind === 'read') {
            const got = new Uint8Array(op.length);
            disk.read(op.offset, got);
            expect(Buffer.compare(got, model.subarray(op.offset, op.offset + op.length))).toBe(0);
          } else if (op.kind === 'discard') {
            disk.discard!(op.offset, op.length);
            model.fill(0, op.offset, op.offset + op.length);
          } else {
            disk.close();
            disk = store.open(path);
          }
        }
        const whole = new Uint8Array(SIZE);
        disk.read(0, whole);
        disk.close();
        expect(Buffer.compare(whole, model)).toBe(0);
        const result = check(path);
        expect(result, result.output).toMatchObject({ status: 0, errors: 0, leaks: 0 });
        rmSync(path);
      }),
      { numRuns: 20, seed: 0x5eed + run },
    );
    expect(store.openCount).toBe(0);
  });
});

describe('damaged metadata', () => {
  it('never escapes as anything but a GuestError naming the file, whatever bytes of the header and tables are flipped', () => {
    const template = tmp.path('fuzz-template.qcow2');
    createImage(template, 'qcow2', '1M', ['cluster_size=512']);
    expect(qemuIo(template, 'qcow2', 'write -P 0x42 0 200k', 'write -P 0x43 700k 3k').status).toBe(0);
    qemuImg('snapshot', '-c', 's', template);
    const metadataEnd = Math.min(readFileSync(template).length, 16 * 1024);
    const store = new ImageStore();
    let run = 0;
    fc.assert(
      fc.property(fc.array(fc.record({ at: fc.integer({ min: 0, max: metadataEnd - 1 }), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }), (flips) => {
        const path = tmp.path(`fuzz-${run++}.qcow2`);
        copyFileSync(template, path);
        const fd = openSync(path, 'r+');
        for (const { at, value } of flips) writeSync(fd, Uint8Array.of(value), 0, 1, at);
        closeSync(fd);
        const attempt = (fn: () => void) => {
          try {
            fn();
          } catch (cause) {
            if (!(cause instanceof GuestError)) throw cause;
            expect(cause.message).toContain(path);
          }
        };
        let disk: DiskImage | undefined;
        attempt(() => (disk = store.open(path)));
        if (disk !== undefined) {
          const opened = disk;
          const buffer = new Uint8Array(64 * 1024);
          for (let offset = 0; offset + buffer.length <= opened.size && offset < 4 << 20; offset += buffer.length) attempt(() => opened.read(offset, buffer));
          attempt(() => opened.write(0, buffer.subarray(0, 1000)));
          attempt(() => opened.write(Math.max(0, opened.size - 5000), buffer.subarray(0, 5000)));
          attempt(() => opened.discard!(0, Math.min(opened.size, 8192)));
          opened.close();
        }
        rmSync(path);
      }),
      { numRuns: 150, seed: 0xbad },
    );
    expect(store.openCount).toBe(0);
  });
});
