/** Images we must refuse or handle with care: bad magic, truncated headers, tables past the end, unknown features, corrupt and dirty bits, bad L2 entries. */
import { closeSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../../../plugins/dom0/disk-images/store.js';
import { check, createImage, guestError, qemuImg, qemuIo, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const store = new ImageStore();

/** Overwrites big-endian 32-bit words at byte offsets of a file. */
function patch(path: string, words: Record<number, number>): void {
  const fd = openSync(path, 'r+');
  for (const [at, value] of Object.entries(words)) {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, value >>> 0);
    writeSync(fd, bytes, 0, 4, Number(at));
  }
  closeSync(fd);
}

function word(path: string, at: number): number {
  return new DataView(readFileSync(path).buffer).getUint32(at);
}

/** A fresh 4 MiB qcow2 image with qemu-io data in its first cluster. */
function image(name: string, opts: string[] = []): string {
  const path = tmp.path(`${name}.qcow2`);
  createImage(path, 'qcow2', '4M', opts);
  expect(qemuIo(path, 'qcow2', 'write -P 0x5a 0 64k').status).toBe(0);
  return path;
}

function refused(path: string, errno: string, message: RegExp, options = {}): void {
  const error = guestError(() => store.open(path, options));
  expect(error.code).toBe(errno);
  expect(error.message).toContain(`disk image ${path}: `);
  expect(error.message).toMatch(message);
  expect(store.openCount).toBe(0);
}

describe('headers we refuse, naming the file', () => {
  it('bad magic, when qcow2 is asked for (auto takes such a file as raw)', () => {
    const path = tmp.path('not-qcow2.img');
    createImage(path, 'raw', '1M');
    refused(path, 'EINVAL', /not a qcow2 image \(bad magic\)/, { format: 'qcow2' });
    const raw = store.open(path);
    expect(raw.format).toBe('raw');
    raw.close();
  });

  it('a header cut short, for version 2 and 3 lengths', () => {
    const v3 = image('short3');
    truncateSync(v3, 90);
    refused(v3, 'EINVAL', /truncated qcow2 header \(90 bytes\)/);
    const v2 = image('short2', ['compat=0.10']);
    truncateSync(v2, 40);
    refused(v2, 'EINVAL', /truncated qcow2 header \(40 bytes\)/);
  });

  it('an L1 entry or the L1 table past the end of the file', () => {
    const entry = image('l1-entry');
    const l1 = word(entry, 44);
    patch(entry, { [l1]: 0x8000_0000, [l1 + 4]: 0x7000_0000 });
    refused(entry, 'EINVAL', /L1 entry 0 \(L2 table at 1879048192\) is unaligned or points past the end of the file/);
    refused(entry, 'EINVAL', /L1 entry 0/, { readOnly: true });
    const table = image('l1-table');
    patch(table, { 44: 0x4000_0000 });
    refused(table, 'EINVAL', /L1 table at offset 1073741824 lies past the end of the file/);
  });

  it('unknown incompatible features, with their names from the image or the spec', () => {
    const dataFile = image('data-file');
    patch(dataFile, { 76: 0x4 });
    refused(dataFile, 'EINVAL', /unsupported incompatible qcow2 features 0x4 \(external data file\)/);
    const high = image('bit-40');
    patch(high, { 72: 0x100 });
    refused(high, 'EINVAL', /unsupported incompatible qcow2 features 0x10000000000 \(bit 40\)/);
    refused(image('ext-l2', ['extended_l2=on']), 'EINVAL', /unsupported incompatible qcow2 features 0x10 \(extended L2 entries\)/);
    refused(image('zstd', ['compression_type=zstd']), 'EINVAL', /unsupported compression type zstd/);
  });

  it('versions, cluster sizes, encryption and refcount widths outside the format', () => {
    const v4 = image('v4');
    patch(v4, { 4: 4 });
    refused(v4, 'EINVAL', /unsupported qcow2 version 4/);
    const big = image('cluster-22');
    patch(big, { 20: 22 });
    refused(big, 'EINVAL', /cluster_bits 22 is outside 9\.\.21/);
    const aes = image('aes');
    patch(aes, { 32: 1 });
    refused(aes, 'EINVAL', /encrypted qcow2 images \(crypt_method 1\) are not supported/);
    const order = image('order-7');
    patch(order, { 96: 7 });
    refused(order, 'EINVAL', /refcount_order 7 is over 6/);
  });
});

describe('corrupt and dirty images', () => {
  it('opens an image marked corrupt read-only, and refuses it read-write', () => {
    const path = image('marked-corrupt');
    patch(path, { 76: 0x2 });
    refused(path, 'EROFS', /marked corrupt: open it read-only/);
    const disk = store.open(path, { readOnly: true });
    const got = new Uint8Array(64 * 1024);
    disk.read(0, got);
    expect(got.every((b) => b === 0x5a)).toBe(true);
    disk.close();
  });

  it('opens a dirty (lazy refcounts) image read-only, and refuses it read-write until qemu-img repairs it', () => {
    const path = image('dirty', ['lazy_refcounts=on']);
    patch(path, { 76: 0x1 });
    refused(path, 'EROFS', /dirty \(lazy refcounts not written back\)/);
    store.open(path, { readOnly: true }).close();
    qemuImg('check', '-q', '-r', 'all', path);
    const disk = store.open(path);
    disk.write(0, new Uint8Array(512));
    disk.close();
    expect(check(path).status).toBe(0);
  });

  it('meets an L2 entry past the end of the file with EIO, marks the image corrupt as QEMU does, and refuses writes after', () => {
    const path = image('bad-l2');
    const l2 = word(path, word(path, 44) + 4) & ~0x1ff;
    patch(path, { [l2]: 0x8000_0000, [l2 + 4]: 0x4000_0000 });
    const disk = store.open(path);
    const read = guestError(() => disk.read(0, new Uint8Array(512)));
    expect(read.code).toBe('EIO');
    expect(read.message).toMatch(new RegExp(`disk image ${path}: corrupt qcow2 metadata: L2 entry 0 .* past the end of the file`));
    const write = guestError(() => disk.write(4 * 65536, new Uint8Array(512)));
    expect(write.code).toBe('EIO');
    expect(write.message).toMatch(/marked corrupt; writes are refused/);
    disk.close();
    expect(word(path, 76) & 0x2).toBe(0x2);
    expect(qemuImg('info', path)).toMatch(/corrupt: true/);
    refused(path, 'EROFS', /marked corrupt/);
  });

  it('clears autoclear bits before its first write (QEMU then drops the bitmaps it can no longer trust)', () => {
    const path = image('bitmap');
    qemuImg('bitmap', '--add', path, 'b0');
    expect(word(path, 92)).toBe(1);
    const disk = store.open(path);
    expect(word(path, 92)).toBe(1);
    disk.write(1 << 20, new Uint8Array(4096).fill(7));
    expect(word(path, 92)).toBe(0);
    disk.close();
    const result = check(path);
    expect(result.errors).toBe(0);
    expect(result.corruptions).toBe(0);
    expect(qemuIo(path, 'qcow2', 'read -P 7 1M 4k', 'read -P 0x5a 0 64k').status).toBe(0);
  });
});
