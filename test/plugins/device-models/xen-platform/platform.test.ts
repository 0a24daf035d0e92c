import { describe, expect, it } from 'vitest';
import { parseDiskSpec } from '../../../../core/config/diskspec.js';
import { xenPlatformModel, type XenPlatformDevice } from '../../../../plugins/device-models/xen-platform/index.js';
import { hvmConfig, rig } from '../../dom0/device-model/fakes.js';

function disks() {
  return ['hvm.img,,hda', 'b.img,,hdb', ',,hdc:cdrom,r'].map((s) => {
    const r = parseDiskSpec(s);
    if (!('value' in r) || r.value === undefined) throw new Error(`bad disk spec ${s}`);
    return r.value;
  });
}

describe('xen-platform', () => {
  it('is PCI 5853:0001 class ff80 rev 1 with subsystem 5853:0001, INTA, BAR0 I/O 0x100, BAR1 16 MiB prefetchable', () => {
    const { guest } = rig([xenPlatformModel], hvmConfig(), 'pvhvm');
    expect(guest.cfgRead(2, 0, 4)).toBe(0x0001_5853);
    expect(guest.cfgRead(2, 0x08, 4)).toBe(0xff80_0001);
    expect(guest.cfgRead(2, 0x2c, 4)).toBe(0x0001_5853);
    expect(guest.cfgRead(2, 0x3d, 1)).toBe(1);
    guest.cfgWrite(2, 0x10, 4, 0xffff_ffff);
    guest.cfgWrite(2, 0x14, 4, 0xffff_ffff);
    expect(guest.cfgRead(2, 0x10, 4)).toBe(0xffff_ff01);
    expect(guest.cfgRead(2, 0x14, 4)).toBe(0xff00_0008);
    expect(xenPlatformModel.wanted(hvmConfig(), 'hvm')).toBe(false);
    expect(xenPlatformModel.wanted(hvmConfig({ xenPlatformPci: false }), 'pvhvm')).toBe(false);
  });

  it('decodes BAR0 once enabled and records where BAR1 is', () => {
    const { guest, run, server } = rig([xenPlatformModel], hvmConfig(), 'pvhvm');
    guest.cfgWrite(2, 0x10, 4, 0xc100);
    guest.cfgWrite(2, 0x14, 4, 0xf200_0000);
    guest.cfgWrite(2, 0x04, 2, 0x3);
    expect(server.ranges).toContainEqual({ space: 'pio', start: 0xc100, end: 0xc1ff });
    expect((run.device('xen-platform') as XenPlatformDevice).bar1).toBe(0xf200_0000);
  });

  it('speaks the unplug protocol: magic, version, product/build, never blacklisted, mask recorded, log lines', () => {
    const config = hvmConfig({ disk: disks(), vif: [{ type: 'ioemu' } as never, { type: 'vif' } as never] });
    const { guest, run, logs } = rig([xenPlatformModel], config, 'pvhvm');
    expect(guest.in(0x10, 2)).toBe(0x49d2);
    expect(guest.inb(0x12)).toBe(1);
    guest.out(0x12, 2, 3);
    guest.out(0x10, 4, 0x0001_0203);
    expect(guest.in(0x10, 2)).toBe(0x49d2);
    guest.out(0x10, 2, 0x4 | 0x2);
    const dev = run.device('xen-platform') as XenPlatformDevice;
    expect(dev.unplug).toEqual({ mask: 6, product: 3, build: 0x10203, disks: ['hdb'], nics: [0] });
    guest.out(0x10, 2, 0x1);
    expect(dev.unplug.disks).toEqual(['hda', 'hdb']);
    for (const c of 'xenpci: hello\n') guest.outb(0x12, c.charCodeAt(0));
    expect(dev.guestLog).toEqual(['xenpci: hello']);
    expect(logs.lines('info').some((l) => l.endsWith('dom5: xen-platform: guest: xenpci: hello'))).toBe(true);
    guest.out(0x11, 1, 0); // an odd access: logged, ignored
  });
});
