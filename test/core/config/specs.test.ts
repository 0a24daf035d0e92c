import { describe, expect, it } from 'vitest';
import { parseCpuSet } from '../../../core/config/cpuset.js';
import { formatBdf, parseBdf, parsePciSpec } from '../../../core/config/pcispec.js';
import { parseVifSpec } from '../../../core/config/vifspec.js';

describe('parseVifSpec', () => {
  it("gives every default for ''", () => {
    expect(parseVifSpec('')).toEqual({ value: { bridge: 'xenbr0', script: 'vif-bridge', trusted: true }, errors: [], warnings: [] });
  });

  it('reads the keys of xl-network-configuration(5)', () => {
    expect(parseVifSpec('mac=00:16:3E:74:3d:76, model=rtl8139,bridge=br1,type=ioemu,vifname=v1,ip=10.0.0.2,backend=netdom,rate=10Mb/s@20ms,devid=3,mtu=9000,gatewaydev=eth0,vlan=10,untrusted').value).toEqual({
      mac: '00:16:3e:74:3d:76',
      model: 'rtl8139',
      bridge: 'br1',
      type: 'ioemu',
      vifname: 'v1',
      ip: '10.0.0.2',
      backend: 'netdom',
      rate: { text: '10Mb/s@20ms', bytesPerSecond: 1_250_000, intervalUs: 20_000 },
      devid: 3,
      mtu: 9000,
      gatewaydev: 'eth0',
      vlan: '10',
      script: 'vif-bridge',
      trusted: false,
    });
  });

  it.each([
    ['mac=00:16:3e:74:3d', '"00:16:3e:74:3d" is not a MAC address (six hex pairs: 00:16:3e:12:34:56)'],
    ['mac=01:16:3e:74:3d:76', 'MAC address 01:16:3e:74:3d:76 is a multicast address (the first octet must be even)'],
    ['brige=xenbr0', 'unknown vif parameter "brige" (did you mean "bridge"?)'],
    ['rate=fast', '"fast" is not a rate (like 10Mb/s, 100MB/s or 10Mb/s@20ms)'],
    ['mtu=20', 'mtu must be a whole number from 68 to 65535, got "20"'],
    ['type=virtio', 'unknown vif type "virtio" (use vif or ioemu)'],
  ])('rejects %j', (spec, message) => {
    expect(parseVifSpec(spec).errors).toEqual([message]);
  });
});

describe('PCI specs', () => {
  it('reads [DDDD:]BB:DD.F[@VSLOT][,key=value]*', () => {
    expect(parsePciSpec('0000:03:00.1@5,permissive=1,rdm_policy=relaxed, name=gpu').value).toEqual({
      address: { segment: 0, bus: 3, device: 0, function: 1 },
      vslot: 5,
      permissive: true,
      msitranslate: false,
      seize: false,
      powerMgmt: false,
      rdmPolicy: 'relaxed',
      name: 'gpu',
    });
    expect(parsePciSpec('03:1f.7').value?.address).toEqual({ segment: 0, bus: 3, device: 0x1f, function: 7 });
  });

  it.each([
    ['03:00', '"03:00" is not a PCI address (like 00:19.0 or 0000:03:00.1)'],
    ['03:20.0', 'PCI device number 20 is above 1f in "03:20.0"'],
    ['03:00.0,permisive=1', 'unknown pci parameter "permisive" (did you mean "permissive"?)'],
    ['03:00.0,seize=yes', 'seize must be 0 or 1, got "yes"'],
  ])('rejects %j', (spec, message) => {
    expect(parsePciSpec(spec).errors).toEqual([message]);
  });

  it('formats addresses as xenstore holds them', () => {
    const r = parseBdf('00:19.0');
    expect('bdf' in r && formatBdf(r.bdf)).toBe('0000:00:19.0');
  });
});

describe('parseCpuSet', () => {
  it('reads all, ranges and exclusions', () => {
    expect(parseCpuSet('all').value).toBe('all');
    expect(parseCpuSet('0-3,5,^1').value).toEqual([0, 2, 3, 5]);
    expect(parseCpuSet('7').value).toEqual([7]);
  });

  it.each([
    ['^1', '"^1" leaves no CPU'],
    ['3-1', 'range "3-1" goes backwards'],
    ['a', '"a" is not a CPU, a range like 0-3, or an exclusion like ^1'],
    ['nodes:0', 'NUMA node lists ("nodes:0") are not supported: the simulated host has one node; list CPUs instead'],
  ])('rejects %j', (text, message) => {
    expect(parseCpuSet(text).errors).toEqual([message]);
  });
});
