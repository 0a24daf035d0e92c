/** blkback's data path against hostile frontends: a ring page and grants we forge, an in-memory disk. */
import { describe, expect, it } from 'vitest';
import { GuestError, type DiskImage } from '../../../../core/api/index.js';
import { BLKIF_OP, BLKIF_RSP, BlkifRequest, BlkifRequestIndirect, BlkifResponse, BlkifSegment, GNTST, SringHeader } from '../../../../core/public/index.js';
import { RingProtocolError, VbdRing } from '../../../../plugins/backends/blkback/requests.js';

function memoryDisk(sectors: number, readOnly = false): DiskImage & { bytes: Uint8Array; reads: number; writes: number; flushes: number } {
  const bytes = new Uint8Array(sectors * 512);
  const check = (offset: number, n: number) => {
    if (offset < 0 || offset + n > bytes.length) throw new GuestError('EINVAL', 'out of range');
  };
  return {
    path: '/mem', format: 'raw', size: bytes.length, readOnly, bytes, reads: 0, writes: 0, flushes: 0,
    read(offset, into) { check(offset, into.length); this.reads++; into.set(bytes.subarray(offset, offset + into.length)); },
    write(offset, data) { check(offset, data.length); this.writes++; bytes.set(data, offset); },
    flush() { this.flushes++; },
    close() {},
  };
}

/** A frontend we control: its ring page, its granted pages by reference. */
function frontend(disk: DiskImage, options: { maxIndirect?: number } = {}) {
  const ring = new Uint8Array(4096);
  const view = new DataView(ring.buffer);
  view.setUint32(SringHeader.reqEvent, 1, true);
  view.setUint32(SringHeader.rspEvent, 1, true);
  const pages = new Map<number, { page: Uint8Array; readonly: boolean }>();
  const warnings: string[] = [];
  let prod = 0;
  const vbd = new VbdRing({
    image: disk,
    ringPage: (fn) => (fn(ring), GNTST.okay),
    grant: (ref, write, fn) => {
      const g = pages.get(ref);
      if (g === undefined) return GNTST.bad_gntref;
      if (write && g.readonly) return GNTST.permission_denied;
      fn(g.page);
      return GNTST.okay;
    },
    maxIndirectSegments: options.maxIndirect ?? 32,
    discard: false,
    warn: (m) => warnings.push(m),
  });
  const slot = (i: number) => SringHeader.size + (i & 31) * BlkifRequest.size;
  return {
    vbd, view, pages, warnings,
    grant(ref: number, readonly = false, fill = 0): Uint8Array {
      const page = new Uint8Array(4096).fill(fill);
      pages.set(ref, { page, readonly });
      return page;
    },
    request(op: number, id: number, sector: number, segs: [number, number, number][]): void {
      const at = slot(prod);
      new Uint8Array(ring.buffer, at, BlkifRequest.size).fill(0);
      view.setUint8(at + BlkifRequest.operation, op);
      view.setUint8(at + BlkifRequest.nrSegments, segs.length);
      view.setBigUint64(at + BlkifRequest.id, BigInt(id), true);
      view.setBigUint64(at + BlkifRequest.sectorNumber, BigInt(sector), true);
      segs.forEach(([gref, first, last], i) => {
        const s = at + BlkifRequest.seg + i * BlkifSegment.size;
        view.setUint32(s + BlkifSegment.gref, gref, true);
        view.setUint8(s + BlkifSegment.firstSect, first);
        view.setUint8(s + BlkifSegment.lastSect, last);
      });
      prod++;
    },
    raw(fill: (at: number) => void): void {
      fill(slot(prod));
      prod++;
    },
    push(value = prod): void {
      view.setUint32(SringHeader.reqProd, value >>> 0, true);
    },
    responses(): { id: number; op: number; status: number }[] {
      const n = view.getUint32(SringHeader.rspProd, true);
      return Array.from({ length: n }, (_, i) => ({ id: Number(view.getBigUint64(slot(i) + BlkifResponse.id, true)), op: view.getUint8(slot(i) + BlkifResponse.operation), status: view.getInt16(slot(i) + BlkifResponse.status, true) }));
    },
  };
}

describe('blkback against a hostile frontend', () => {
  it('serves good requests and answers each bad one with an error, in order, without touching the disk for it', () => {
    const disk = memoryDisk(64);
    const f = frontend(disk);
    f.grant(10, false, 0xaa);
    f.grant(11, true, 0xbb);
    f.request(BLKIF_OP.write, 1, 0, [[10, 0, 7]]);
    f.request(BLKIF_OP.write, 2, 8, [[99, 0, 7]]); // a grant it does not own
    f.request(BLKIF_OP.read, 3, 0, [[11, 0, 7]]); // a read into a read-only grant
    f.request(BLKIF_OP.read, 4, 0, [[10, 3, 9]]); // past the end of the page
    f.request(BLKIF_OP.read, 5, 60, [[10, 0, 7]]); // past the end of the disk
    f.request(0x7f, 6, 0, []); // no such operation
    f.request(BLKIF_OP.read, 7, 0, Array.from({ length: 12 }, () => [10, 0, 0] as [number, number, number])); // too many segments
    f.push();
    const r = f.vbd.pass(64);
    expect(r.requests).toBe(7);
    expect(f.responses().map((x) => [x.id, x.status])).toEqual([[1, BLKIF_RSP.okay], [2, BLKIF_RSP.error], [3, BLKIF_RSP.error], [4, BLKIF_RSP.error], [5, BLKIF_RSP.error], [6, BLKIF_RSP.eopnotsupp], [7, BLKIF_RSP.error]]);
    expect(disk.bytes.subarray(0, 4096).every((b) => b === 0xaa)).toBe(true);
    expect(disk.bytes.subarray(4096).every((b) => b === 0)).toBe(true);
    expect(f.warnings).toHaveLength(6);
    expect(f.vbd.stats.errors).toBe(6);
  });

  it('refuses writes to a read-only disk', () => {
    const disk = memoryDisk(16, true);
    const f = frontend(disk);
    f.grant(10, false, 1);
    f.request(BLKIF_OP.write, 1, 0, [[10, 0, 7]]);
    f.push();
    f.vbd.pass(8);
    expect(f.responses()[0]!.status).toBe(BLKIF_RSP.error);
    expect(disk.writes).toBe(0);
  });

  it('disconnects on ring indexes beyond the ring instead of trusting them', () => {
    const f = frontend(memoryDisk(16));
    f.push(1000);
    expect(() => f.vbd.pass(64)).toThrow(RingProtocolError);
  });

  it('takes a flood a batch at a time and says more is waiting', () => {
    const f = frontend(memoryDisk(512));
    f.grant(10);
    for (let i = 0; i < 32; i++) f.request(BLKIF_OP.read, i, (i * 16) % 512, [[10, 0, 7]]);
    f.push();
    const first = f.vbd.pass(8);
    expect(first).toMatchObject({ requests: 8, more: true });
    while (f.vbd.pass(8).more);
    expect(f.responses()).toHaveLength(32);
  });

  it('merges requests that continue one another into one disk read, and answers each', () => {
    const disk = memoryDisk(256);
    disk.bytes.forEach((_, i) => (disk.bytes[i] = (i >> 9) & 0xff));
    const f = frontend(disk);
    const pages = [f.grant(20), f.grant(21), f.grant(22)];
    f.request(BLKIF_OP.read, 1, 8, [[20, 0, 7]]);
    f.request(BLKIF_OP.read, 2, 16, [[21, 0, 7]]);
    f.request(BLKIF_OP.read, 3, 24, [[22, 0, 3]]);
    f.push();
    f.vbd.pass(64);
    expect(disk.reads).toBe(1);
    expect(f.responses().map((x) => x.status)).toEqual([0, 0, 0]);
    expect(pages[1]![0]).toBe(16);
    expect(pages[2]![3 * 512]).toBe(27);
    expect(f.vbd.stats.sectorsRead).toBe(20);
  });

  it('starts every request afresh: segments or a refusal of the one served before it in a pass do not carry over', () => {
    const disk = memoryDisk(64);
    disk.bytes.fill(5);
    const f = frontend(disk);
    f.grant(10);
    f.grant(11, true); // read-only: a read cannot fill it
    f.request(BLKIF_OP.read, 1, 0, Array.from({ length: 11 }, (_, i) => [10, 0, i === 10 ? 8 : 7] as [number, number, number]));
    f.request(BLKIF_OP.read, 2, 0, [[10, 0, 7]]);
    f.request(BLKIF_OP.read, 3, 8, [[11, 0, 7]]);
    f.push();
    f.vbd.pass(64);
    const written = f.grant(12, false, 0xcc);
    const into = [f.grant(13), f.grant(14)];
    f.request(BLKIF_OP.write, 4, 16, [[12, 0, 7]]);
    f.request(BLKIF_OP.read, 5, 0, [[13, 0, 7]]);
    f.request(BLKIF_OP.read, 6, 8, [[14, 0, 7]]);
    f.push();
    expect(f.vbd.pass(64).requests).toBe(3);
    expect(f.responses().map((x) => [x.id, x.status])).toEqual([[1, BLKIF_RSP.error], [2, BLKIF_RSP.okay], [3, BLKIF_RSP.error], [4, BLKIF_RSP.okay], [5, BLKIF_RSP.okay], [6, BLKIF_RSP.okay]]);
    expect(disk.bytes.subarray(16 * 512, 24 * 512).every((b) => b === 0xcc)).toBe(true);
    expect(disk.bytes.subarray(24 * 512).every((b) => b === 5)).toBe(true);
    expect(into.every((p) => p.every((b) => b === 5))).toBe(true);
    expect(written.every((b) => b === 0xcc)).toBe(true);
    expect(f.vbd.stats).toMatchObject({ reads: 3, writes: 1, sectorsRead: 24, sectorsWritten: 8, errors: 2 });
  });

  it('reads an indirect request\'s segments from its indirect page and answers with the inner operation', () => {
    const disk = memoryDisk(512);
    disk.bytes.fill(7);
    const f = frontend(disk);
    const list = f.grant(30, true);
    const lv = new DataView(list.buffer);
    for (let i = 0; i < 16; i++) {
      f.grant(100 + i);
      lv.setUint32(i * 8 + BlkifSegment.gref, 100 + i, true);
      lv.setUint8(i * 8 + BlkifSegment.lastSect, 7);
    }
    f.raw((at) => {
      f.view.setUint8(at + BlkifRequestIndirect.operation, BLKIF_OP.indirect);
      f.view.setUint8(at + BlkifRequestIndirect.indirectOp, BLKIF_OP.read);
      f.view.setUint16(at + BlkifRequestIndirect.nrSegments, 16, true);
      f.view.setBigUint64(at + BlkifRequestIndirect.id, 9n, true);
      f.view.setUint32(at + BlkifRequestIndirect.indirectGrefs, 30, true);
    });
    f.push();
    f.vbd.pass(8);
    expect(f.responses()).toEqual([{ id: 9, op: BLKIF_OP.read, status: 0 }]);
    expect(f.pages.get(115)!.page.every((b) => b === 7)).toBe(true);
  });
});
