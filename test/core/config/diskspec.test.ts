import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseDiskSpec, vdevNumber, type DiskSpec } from '../../../core/config/diskspec.js';

const ok = (spec: string): DiskSpec => {
  const r = parseDiskSpec(spec);
  expect(r.errors).toEqual([]);
  return r.value!;
};

describe('parseDiskSpec', () => {
  it('parses the equivalent forms of xl-disk-configuration(5) identically', () => {
    const a = ok('/dev/vg/guest-volume,,hda');
    expect(ok('/dev/vg/guest-volume,raw,hda,rw')).toEqual(a);
    expect(ok('format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume')).toEqual(a);
    expect(a).toEqual({ target: '/dev/vg/guest-volume', format: 'raw', vdev: 'hda', access: 'rw', devtype: 'disk', directIoSafe: false, trusted: true, specification: 'xen' });
  });

  it('lets target= swallow the rest, commas included', () => {
    expect(ok('vdev=xvda, target=/images/a,b,c.img').target).toBe('/images/a,b,c.img');
  });

  it('makes a CD-ROM read-only, and empty without a target', () => {
    expect(ok('/isos/x.iso,raw,hdc,rw,devtype=cdrom')).toMatchObject({ access: 'ro', devtype: 'cdrom', format: 'raw' });
    expect(ok(',,hdc:cdrom,r')).toMatchObject({ target: '', format: 'empty', vdev: 'hdc', devtype: 'cdrom', access: 'ro' });
    expect(ok('vdev=hdc,cdrom')).toMatchObject({ target: '', format: 'empty', devtype: 'cdrom' });
  });

  it('reads flags and keys', () => {
    expect(ok('/i.img,qcow2,xvdb,r,backend=dom1,backendtype=qdisk,script=block-x,direct-io-safe,no-discard,untrusted,specification=virtio')).toEqual({
      target: '/i.img',
      format: 'qcow2',
      vdev: 'xvdb',
      access: 'ro',
      devtype: 'disk',
      backend: 'dom1',
      backendtype: 'qdisk',
      script: 'block-x',
      directIoSafe: true,
      discard: false,
      trusted: false,
      specification: 'virtio',
    });
  });

  it('accepts the deprecated prefixes, which skip the format position', () => {
    expect(ok('phy:/dev/vg/x,xvda,w')).toMatchObject({ target: '/dev/vg/x', vdev: 'xvda', access: 'rw', format: 'raw' });
    expect(ok('qcow2:/images/a.qcow2,xvda,r')).toMatchObject({ target: '/images/a.qcow2', format: 'qcow2', access: 'ro' });
    expect(ok('nbd:host:1234,xvda')).toMatchObject({ target: 'host:1234', script: 'block-nbd' });
  });

  it.each([
    ['/img/a.img,qcow3,xvda', 'unknown disk format "qcow3" (known: raw, qcow, qcow2, vhd, qed, empty)'],
    ['/img/a.img,raw', 'no vdev given (the virtual device, e.g. xvda: the third positional value or vdev=)'],
    ['vdev=xvda', 'no target given (the image file or device: the first positional value or target=)'],
    ['/img/a.img,raw,xvda,rw,extra', 'too many positional parameters at "extra" (the order is target, format, vdev, access)'],
    ['/img/a.img,raw,xvda,rwx', 'unknown access "rwx" (use ro, r, rw or w)'],
    ['/img/a.img,raw,floppy', '"floppy" is not a virtual device name (use xvdX, hdX, sdX or dNpM)'],
    ['/img/a.img,raw,xvda,vdve=xvdb', 'unknown disk parameter "vdve" (did you mean "vdev"?)'],
    ['foo:/x,xvda', 'unknown deprecated disk prefix "foo:"'],
    ['/img/a.img,raw,xvda,backendtype=nfs', 'unknown backendtype "nfs" (known: phy, qdisk, tap, standalone)'],
  ])('rejects %j: %s', (spec, message) => {
    expect(parseDiskSpec(spec).errors).toEqual([message]);
  });

  it('warns about COLO settings instead of dropping them silently', () => {
    expect(parseDiskSpec('/a.img,raw,xvda,colo,colo-host=h').warnings).toHaveLength(2);
  });

  const target = fc.stringMatching(/^\/[a-z0-9/._-]{1,20}$/);
  const format = fc.constantFrom('raw', 'qcow', 'qcow2', 'vhd', 'qed');
  const vdev = fc.constantFrom('xvda', 'xvdb', 'hda', 'hdc', 'sda', 'xvdz3', 'd0p1');
  const access = fc.constantFrom('r', 'ro', 'w', 'rw');

  it('positional and keyed spellings of random disks parse the same (property)', () => {
    fc.assert(
      fc.property(target, format, vdev, access, fc.boolean(), fc.integer({ min: 0, max: 3 }), (t, f, v, a, spaced, order) => {
        const positional = ok(`${t},${f},${v},${a}`);
        const keyed = [`format=${f}`, `vdev=${v}`, `access=${a}`];
        const rotated = [...keyed.slice(order % 3), ...keyed.slice(0, order % 3)];
        const sep = spaced ? ', ' : ',';
        expect(ok(`${rotated.join(sep)}${sep}target=${t}`)).toEqual(positional);
        expect(ok(`${t}${sep}${f}${sep}vdev=${v}${sep}access=${a}`)).toEqual(positional);
      }),
    );
  });

  it('never throws on arbitrary text (property)', () => {
    fc.assert(fc.property(fc.string(), (s) => void parseDiskSpec(s)));
  });
});

describe('vdevNumber', () => {
  it('encodes as xen-vbd-interface(7) says', () => {
    expect(vdevNumber('xvda')).toBe(51712);
    expect(vdevNumber('xvdb')).toBe(51728);
    expect(vdevNumber('xvda1')).toBe(51713);
    expect(vdevNumber('sda')).toBe(2048);
    expect(vdevNumber('hda')).toBe(768);
    expect(vdevNumber('hdc')).toBe(5632);
    expect(vdevNumber('xvdq')).toBe((1 << 28) | (16 << 8));
    expect(vdevNumber('floppy')).toBeUndefined();
  });
});
