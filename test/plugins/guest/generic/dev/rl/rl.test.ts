import { describe, expect, it } from 'vitest';
import { parseVifSpec } from '../../../../../../core/config/vifspec.js';
import { rtl8139Model, type Rtl8139Nics } from '../../../../../../plugins/device-models/rtl8139/index.js';
import { pciBusDriver, pciEnumerate } from '../../../../../../plugins/guest/generic/dev/pci/pci.js';
import type { RlSoftc } from '../../../../../../plugins/guest/generic/dev/rl/if_rl.js';
import { rlPciDriver } from '../../../../../../plugins/guest/generic/dev/rl/rl_pci.js';
import { Device, deviceAttach } from '../../../../../../plugins/guest/generic/kern/bus.js';
import { runIntrOn, tsleep } from '../../../../../../plugins/guest/generic/kern/kern_intr.js';
import { hvmConfig } from '../../../../dom0/device-model/fakes.js';
import { FakeBridges } from '../../../../device-models/rtl8139/fake-bridge.js';
import { DmMachine } from '../dm-machine.js';

const MAC = '00:16:3e:12:34:56';
const PEER = [0x00, 0x16, 0x3e, 0x0a, 0x0b, 0x0c];

/** Boots to the end of the rl attach; `unplugAfterScan`: the platform takes the NIC between the bus scan and the attach (PVHVM's xenpci). */
function boot(opts: { unplugAfterScan?: boolean } = {}) {
  const bridges = new FakeBridges();
  const vif = { ...parseVifSpec(`mac=${MAC},bridge=xenbr0`).value!, type: 'ioemu' as const };
  const m = new DmMachine([rtl8139Model(() => bridges)], hvmConfig({ vif: [vif] }));
  m.placeBars(2, 0xc100, 0xf000_0000);
  const k = m.k;
  m.exec(
    (function* () {
      yield* m.platform();
      const devices = yield* pciEnumerate(k.v, 0);
      if (opts.unplugAfterScan) (m.run.device('rtl8139') as Rtl8139Nics).onUnplug('nics');
      yield* deviceAttach(k, new Device('nexus', 0, 'nexus', undefined), pciBusDriver([rlPciDriver({ intr: m.intr, ioapic: m.ioapicDriver, apicId: 0 })], devices));
    })(),
  );
  const received: { ifname: string; frame: Uint8Array }[] = [];
  k.netInput = (ifname, frame) => void received.push({ ifname, frame });
  return { m, k, bridge: bridges.get('xenbr0'), log: k.msgbuf.contents(), rl: k.ifnets[0] as RlSoftc, received };
}

/** A frame from PEER to `dst` of `length` bytes, its payload counting up from `seed`. */
function frame(dst: readonly number[], length: number, seed = 0): Uint8Array {
  const f = Uint8Array.from({ length }, (_, i) => (seed + i) & 0xff);
  f.set(dst, 0);
  f.set(PEER, 6);
  f.set([0x08, 0x00], 12);
  return f;
}
const macBytes = MAC.split(':').map((h) => parseInt(h, 16));

describe('rl: attach', () => {
  it('claims the RTL8139, reads the MAC from IDR0-5, routes INTx level-triggered and joins k.ifnets with the link up', () => {
    const { log, rl, k, m } = boot();
    expect(log).toContain('rl0: <RealTek 8139 10/100BaseTX> on pci0');
    expect(log).toContain('rl0: port 0xc100-0xc1ff mem 0xf0000000-0xf00000ff irq 24 at device 2.0');
    expect(log).toContain(`rl0: Ethernet address: ${MAC}`);
    expect(log).toContain('rl0: interrupt on GSI 24 (level, low) vector 0x48');
    expect(log).toContain('rl0: link state changed to UP');
    expect(k.ifnets).toEqual([rl]);
    expect([rl.name, [...rl.mac], rl.mtu, rl.up]).toEqual(['rl0', macBytes, 1500, true]);
    expect(m.ioapic.entry(24)).toMatchObject({ vector: 0x48, level: true, activeLow: true, masked: false, remoteIrr: false });
  });

  it('a NIC the platform unplugged before the driver came is not attached', () => {
    const { log, k } = boot({ unplugAfterScan: true });
    expect(log).toContain('rl0: gone from device 2.0 (unplugged): not attached');
    expect(k.ifnets).toEqual([]);
  });
});

describe('rl: transmit', () => {
  it('transmit() copies into a descriptor buffer; the kick (one TSD write) goes out from the idle loop; TOK reclaims it', () => {
    const { m, k, rl, bridge } = boot();
    const f = frame(PEER, 42);
    const exits = m.totalExits;
    expect(rl.transmit(f)).toBe(true);
    expect(m.totalExits).toBe(exits); // the copy is a memory write
    expect(bridge.sent).toEqual([]);
    m.exec(runIntrOn(k.bsp));
    expect(m.totalExits - exits).toBe(1);
    const padded = new Uint8Array(60);
    padded.set(f);
    expect(bridge.sent).toEqual([{ port: 'tap5.0', frame: padded }]);
    m.exec(m.intr.serve());
    expect(rl.stats).toMatchObject({ opackets: 1, obytes: 60, oerrors: 0 });
    expect(m.lapic.pendingVector).toBeUndefined(); // the level interrupt was acknowledged: no storm
    expect(m.totalExits - exits).toBe(1 + 2 + 1 + 1 + 1); // TSD; ISR read and ack; TSD status; the ISR re-read; EOI
  });

  it('four descriptors: a fifth frame waits for a reclaim (false, counted), then goes', () => {
    const { m, k, rl, bridge } = boot();
    for (let i = 0; i < 4; i++) expect(rl.transmit(frame(PEER, 100, i))).toBe(true);
    expect(rl.transmit(frame(PEER, 100, 9))).toBe(false);
    expect(rl.stats.oerrors).toBe(1);
    m.exec(runIntrOn(k.bsp));
    expect(bridge.sent.map((s) => s.frame[14])).toEqual([14, 15, 16, 17]);
    m.exec(m.intr.serve());
    expect(rl.transmit(frame(PEER, 100, 9))).toBe(true);
    m.exec(runIntrOn(k.bsp));
    expect(bridge.sent).toHaveLength(5);
    expect(rl.transmit(new Uint8Array(2000))).toBe(false);
  });
});

describe('rl: receive', () => {
  it('frames from the bridge reach k.netInput through the rx ring on the interrupt', () => {
    const { m, k, bridge, received, rl } = boot();
    const f = frame(macBytes, 300, 1);
    expect(bridge.inject('tap5.0', f)).toBe(true);
    const exits = m.totalExits;
    m.exec(tsleep(k.bsp, () => received.length > 0, m.engine.now + 1e9));
    expect(received).toEqual([{ ifname: 'rl0', frame: f }]);
    expect(rl.stats).toMatchObject({ ipackets: 1, ibytes: 300, ierrors: 0 });
    expect(m.totalExits - exits).toBe(2 + 2 + 1 + 1); // ISR read and ack; CBR and CAPR; the ISR re-read; EOI
  });

  it('keeps up across the end of its 32 KiB ring: every frame arrives whole and in order', () => {
    const { m, k, bridge, received } = boot();
    const sent: Uint8Array[] = [];
    for (let round = 0; round < 24; round++) {
      for (let i = 0; i < 5; i++) {
        const f = frame(macBytes, 600 + 97 * i + round, round * 5 + i);
        sent.push(f);
        expect(bridge.inject('tap5.0', f)).toBe(true);
      }
      m.exec(tsleep(k.bsp, () => received.length === sent.length, m.engine.now + 1e9));
    }
    expect(received.map((r) => r.frame)).toEqual(sent);
    expect(sent.reduce((n, f) => n + f.length, 0)).toBeGreaterThan(2 * 32 * 1024);
  });

  it('short frames arrive padded to 60 bytes; a broadcast and a multicast (all groups accepted) arrive too; others are filtered by the chip', () => {
    const { m, k, bridge, received } = boot();
    bridge.inject('tap5.0', frame(macBytes, 20));
    bridge.inject('tap5.0', frame([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 64));
    bridge.inject('tap5.0', frame([0x33, 0x33, 0xff, 0, 0, 1], 86));
    bridge.inject('tap5.0', frame([0x00, 0x16, 0x3e, 9, 9, 9], 64));
    m.exec(tsleep(k.bsp, () => received.length >= 3, m.engine.now + 1e9));
    m.exec(tsleep(k.bsp, () => false, m.engine.now + 1e6));
    expect(received.map((r) => r.frame.length)).toEqual([60, 64, 86]);
  });
});
