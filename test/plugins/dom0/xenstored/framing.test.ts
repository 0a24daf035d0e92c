/** The transport-side framing check: message boundaries in any split, and the first oversized header. */
import { describe, expect, it } from 'vitest';
import { XS_HEADER_SIZE, XS_PAYLOAD_MAX } from '../../../../plugins/dom0/xenstored/connection.js';
import { FrameGuard } from '../../../../plugins/dom0/xenstored/framing.js';

function message(len: number, declared = len): Uint8Array {
  const m = new Uint8Array(XS_HEADER_SIZE + len);
  new DataView(m.buffer).setUint32(12, declared, true);
  m.fill(0xff, XS_HEADER_SIZE);
  return m;
}

describe('FrameGuard', () => {
  it('follows boundaries fed a byte at a time and accepts a payload of exactly the maximum', () => {
    const g = new FrameGuard();
    const stream = [message(3), message(XS_PAYLOAD_MAX), message(0)];
    for (const m of stream) {
      for (let i = 0; i < m.length; i++) {
        expect(g.check(m.subarray(i, i + 1))).toBeUndefined();
        if (i < m.length - 1) expect(g.atBoundary).toBe(false);
      }
      expect(g.atBoundary).toBe(true);
    }
  });

  it('reports the first header whose len is over the maximum, even split inside the len field', () => {
    const g = new FrameGuard();
    const bad = message(0, XS_PAYLOAD_MAX + 1);
    expect(g.check(bad.subarray(0, 13))).toBeUndefined();
    expect(g.remaining).toBe(3);
    expect(g.check(bad.subarray(13))).toMatch(/payload of 4097 bytes exceeds 4096/);
    const huge = message(0, 0xffff_ffff);
    g.reset();
    expect(g.check(huge)).toMatch(/payload of 4294967295 bytes/);
  });

  it('forgets a partial header on reset', () => {
    const g = new FrameGuard();
    g.check(message(0, 0xffff_ffff).subarray(0, 14));
    g.reset();
    expect(g.atBoundary).toBe(true);
    expect(g.check(message(5))).toBeUndefined();
    expect(g.atBoundary).toBe(true);
  });
});
