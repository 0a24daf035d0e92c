import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { DomainConfig } from '../../../../core/api/index.js';
import { parseVifSpec } from '../../../../core/config/vifspec.js';
import { CR, INT, RTL, RX, TSD, etherCrc32, etherCrc32Be, rtl8139Model, rtl8139Vifs, type Rtl8139Nics } from '../../../../plugins/device-models/rtl8139/index.js';
import { xenPlatformModel } from '../../../../plugins/device-models/xen-platform/index.js';
import { hvmConfig, rig, type Guest } from '../../dom0/device-model/fakes.js';
import { FakeBridges } from './fake-bridge.js';

const IO = 0xc100;
const SLOT = 2;
const MAC = [0x00, 0x16, 0x3e, 0x12, 0x34, 0x56];
const RING = 0x4_0000;
const TXBUF = 0x2000;

function vifs(...specs: string[]): DomainConfig['vif'] {
  return specs.map((s) => {
    const r = parseVifSpec(s);
    if (r.value === undefined) throw new Error(`bad vif ${s}`);
    return { ...r.value, type: r.value.type ?? 'ioemu' };
  });
}

function setup(specs = ['mac=00:16:3e:12:34:56,bridge=xenbr0'], opts: { platform?: boolean; bridges?: FakeBridges | null } = {}) {
  const bridges = opts.bridges === null ? undefined : (opts.bridges ?? new FakeBridges());
  const models = [...(opts.platform ? [xenPlatformModel] : []), rtl8139Model(() => bridges)];
  const r = rig(models, hvmConfig({ vif: vifs(...specs) }), opts.platform ? 'pvhvm' : 'hvm');
  const slot = opts.platform ? SLOT + 1 : SLOT;
  r.guest.cfgWrite(slot, 0x10, 4, IO);
  r.guest.cfgWrite(slot, 0x04, 2, 0x5);
  const bridge = bridges?.get('xenbr0');
  return { ...r, bridges, bridge, slot, nics: r.run.device('rtl8139') as Rtl8139Nics };
}

function frameTo(dst: readonly number[], length = 64, fill = 0xab): Uint8Array {
  const f = new Uint8Array(length).fill(fill);
  f.set(dst, 0);
  f.set([0x02, 0, 0, 0, 0, 0x99], 6);
  f[12] = 0x08;
  f[13] = 0x00;
  return f;
}

/** The driver's set-up: ring at RING (RBLEN 8 KiB unless said), receiver and transmitter on, every interrupt unmasked. */
function up(g: Guest, rcr = 0x0a): void {
  g.out(IO + RTL.RBSTART, 4, RING);
  g.outb(IO + RTL.CR, CR.RE | CR.TE);
  g.out(IO + RTL.RCR, 4, rcr);
  g.out(IO + RTL.IMR, 2, 0xe07f);
}

describe('rtl8139: the PCI function and its registers', () => {
  it('is 10ec:8139 rev 0x20, class 0200, INTA, BAR0 256 bytes of I/O and BAR1 256 bytes of memory', () => {
    const { guest } = setup();
    expect(guest.cfgRead(SLOT, 0, 4)).toBe(0x8139_10ec);
    expect(guest.cfgRead(SLOT, 0x08, 4)).toBe(0x0200_0020);
    expect(guest.cfgRead(SLOT, 0x2c, 4)).toBe(0x1100_1af4);
    expect(guest.cfgRead(SLOT, 0x3d, 1)).toBe(1);
    guest.cfgWrite(SLOT, 0x10, 4, 0xffff_ffff);
    guest.cfgWrite(SLOT, 0x14, 4, 0xffff_ffff);
    expect([guest.cfgRead(SLOT, 0x10, 4), guest.cfgRead(SLOT, 0x14, 4)]).toEqual([0xffff_ff01, 0xffff_ff00]);
  });

  it('holds the vif MAC in IDR0-5 and comes out of reset with empty ring, host-owned descriptors, link up on its bridge port', () => {
    const { guest, bridge } = setup();
    expect(Array.from({ length: 6 }, (_, i) => guest.inb(IO + i))).toEqual(MAC);
    expect(guest.in(IO, 4)).toBe(0x123e_1600);
    expect(guest.inb(IO + RTL.CR)).toBe(CR.BUFE);
    expect(guest.in(IO + RTL.TSD0, 4)).toBe(TSD.OWN);
    expect(guest.in(IO + RTL.CAPR, 2)).toBe(0xfff0);
    expect(guest.in(IO + RTL.TCR, 4)).toBe(0x7400_0000);
    expect(guest.inb(IO + RTL.MSR) & 0x04).toBe(0);
    expect(guest.in(IO + RTL.BMSR, 2) & 0x0004).toBe(0x0004);
    expect(bridge!.ports()).toEqual(['tap5.0']);
    guest.outb(IO + 0, 0x02); // IDR is writable; a reset reloads it
    expect(guest.inb(IO)).toBe(0x02);
    guest.outb(IO + RTL.CR, CR.RST);
    expect(guest.inb(IO)).toBe(0x00);
    expect(guest.inb(IO + RTL.CR) & CR.RST).toBe(0);
  });

  it('the same registers answer through the memory BAR', () => {
    const { guest, server } = setup();
    guest.cfgWrite(SLOT, 0x14, 4, 0xf100_0000);
    guest.cfgWrite(SLOT, 0x04, 2, 0x7);
    expect(server.ranges).toContainEqual({ space: 'mmio', start: 0xf100_0000, end: 0xf100_00ff });
  });
});

describe('rtl8139: transmit', () => {
  it('a TSD write sends the buffer TSAD points at into the bridge, then sets OWN|TOK and raises TOK on INTx', () => {
    const { guest, server, bridge, tasks } = setup();
    up(guest);
    const frame = frameTo([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 98);
    server.guestMemory.write(TXBUF, frame);
    guest.out(IO + RTL.TSAD0 + 4, 4, TXBUF);
    guest.out(IO + RTL.TSD0 + 4, 4, frame.length);
    expect(bridge!.sent).toEqual([{ port: 'tap5.0', frame }]);
    expect(guest.in(IO + RTL.TSD0 + 4, 4) & (TSD.OWN | TSD.TOK | TSD.SIZE)).toBe(TSD.OWN | TSD.TOK | 98);
    expect(guest.in(IO + RTL.ISR, 2)).toBe(INT.TOK);
    expect(server.intx.at(-1)).toEqual({ device: SLOT, intx: 0, high: true });
    expect(guest.in(IO + RTL.TSAD, 2) & 0x2202).toBe(0x2002); // TOK1, OWN1
    guest.out(IO + RTL.ISR, 2, INT.TOK);
    expect(server.intx.at(-1)).toEqual({ device: SLOT, intx: 0, high: false });
    expect(tasks.charged.copyPerByte).toBe(98);
  });

  it('with the transmitter off nothing is sent; in loopback mode the frame comes back into the ring', () => {
    const { guest, server, bridge, clock } = setup();
    server.guestMemory.write(TXBUF, frameTo(MAC));
    guest.out(IO + RTL.TSAD0, 4, TXBUF);
    guest.out(IO + RTL.TSD0, 4, 64);
    expect(bridge!.sent).toEqual([]);
    up(guest);
    guest.out(IO + RTL.TCR, 4, 0x0006_0000);
    guest.out(IO + RTL.TSD0, 4, 64);
    clock.advance(0);
    expect(bridge!.sent).toEqual([]);
    expect(server.guestMemory.read(RING + 4, 6)).toEqual(Uint8Array.from(MAC));
  });
});

describe('rtl8139: receive', () => {
  it('writes header, frame (padded to 60) and FCS into the ring as Dom0 work, advances CBR, raises ROK; CAPR frees the space', () => {
    const { guest, server, bridge, clock } = setup();
    up(guest);
    const frame = frameTo(MAC, 42);
    expect(bridge!.inject('tap5.0', frame)).toBe(true);
    expect(guest.in(IO + RTL.ISR, 2)).toBe(0);
    clock.advance(0);
    const head = server.guestMemory.read(RING, 4);
    const status = head[0]! | (head[1]! << 8);
    const length = head[2]! | (head[3]! << 8);
    expect(status).toBe(RX.ROK | RX.PAM);
    expect(length).toBe(64);
    const padded = new Uint8Array(60);
    padded.set(frame);
    expect(server.guestMemory.read(RING + 4, 60)).toEqual(padded);
    expect(server.guestMemory.readU32(RING + 64)).toBe(etherCrc32(padded));
    expect(guest.in(IO + RTL.CBR, 2)).toBe(68);
    expect(guest.inb(IO + RTL.CR) & CR.BUFE).toBe(0);
    expect(guest.in(IO + RTL.ISR, 2)).toBe(INT.ROK);
    expect(server.intx.at(-1)!.high).toBe(true);
    guest.out(IO + RTL.CAPR, 2, 68 - 16);
    expect(guest.inb(IO + RTL.CR) & CR.BUFE).toBe(CR.BUFE);
  });

  it('filters by RCR: its own MAC, broadcast with AB, multicast through the MAR hash, everything with AAP', () => {
    const { guest, server, bridge, clock } = setup();
    up(guest, 0x02); // APM only
    const other = frameTo([0x00, 0x16, 0x3e, 0, 0, 1]);
    const bcast = frameTo([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    const mcast = frameTo([0x33, 0x33, 0, 0, 0, 1]);
    for (const f of [other, bcast, mcast]) expect(bridge!.inject('tap5.0', f)).toBe(true);
    clock.advance(0);
    expect(guest.in(IO + RTL.CBR, 2)).toBe(0);
    guest.out(IO + RTL.RCR, 4, 0x0e); // APM | AM | AB
    const bit = etherCrc32Be(mcast, 0, 6) >>> 26;
    guest.outb(IO + RTL.MAR0 + (bit >> 3), 1 << (bit & 7));
    for (const f of [other, bcast, mcast]) bridge!.inject('tap5.0', f);
    clock.advance(0);
    expect(guest.in(IO + RTL.CBR, 2)).toBe(2 * 72); // 4 + 64 + 4 each
    expect(server.guestMemory.readU16(RING)).toBe(RX.ROK | RX.BAR);
    expect(server.guestMemory.readU16(RING + 72)).toBe(RX.ROK | RX.MAR);
    guest.out(IO + RTL.RCR, 4, 0x01); // AAP (and the ring restarts)
    bridge!.inject('tap5.0', other);
    clock.advance(0);
    expect(guest.in(IO + RTL.CBR, 2)).toBe(72);
  });

  it('a full ring drops the frame (deliver says false), counts it in MPC and raises RXOVW', () => {
    const { guest, bridge, clock, nics } = setup();
    up(guest);
    let accepted = 0;
    while (bridge!.inject('tap5.0', frameTo(MAC, 1000))) accepted++;
    expect(accepted).toBe(Math.floor((8192 - 1) / 1008));
    expect(guest.in(IO + RTL.ISR, 2) & INT.RXOVW).toBe(INT.RXOVW);
    expect(guest.in(IO + RTL.MPC, 4)).toBe(1);
    clock.advance(0);
    expect(nics.nics[0]!.stats).toMatchObject({ rxFrames: accepted, rxDropped: 1 });
    guest.out(IO + RTL.CAPR, 2, guest.in(IO + RTL.CBR, 2) - 16); // the driver took everything
    expect(bridge!.inject('tap5.0', frameTo(MAC, 1000))).toBe(true);
    guest.outb(IO + RTL.CR, CR.TE); // receiver off: dropped
    expect(bridge!.inject('tap5.0', frameTo(MAC))).toBe(false);
  });

  it('a packet that reaches the ring end continues at its start, or runs past the end with RCR.WRAP', () => {
    for (const wrap of [false, true]) {
      const { guest, server, bridge, clock } = setup();
      up(guest, wrap ? 0x8a : 0x0a);
      for (let i = 0; i < 8; i++) bridge!.inject('tap5.0', frameTo(MAC, 1000, i));
      clock.advance(0);
      const at = guest.in(IO + RTL.CBR, 2);
      expect(at).toBe(8 * 1008);
      guest.out(IO + RTL.CAPR, 2, at - 16);
      const last = frameTo(MAC, 1000, 0x77);
      bridge!.inject('tap5.0', last);
      clock.advance(0);
      expect(guest.in(IO + RTL.CBR, 2)).toBe((9 * 1008) % 8192);
      const before = 8192 - at; // header and the first frame bytes fit before the end
      const rest = 1008 - before;
      const tail = wrap ? RING + 8192 : RING;
      expect(server.guestMemory.read(RING + at + 4, before - 4)).toEqual(last.subarray(0, before - 4));
      expect(server.guestMemory.read(tail, rest - 4)).toEqual(last.subarray(before - 4));
      expect(server.guestMemory.readU32(tail + rest - 4)).toBe(etherCrc32(last));
      if (wrap) expect(server.guestMemory.readU16(RING)).toBe(RX.ROK | RX.PAM); // the first packet is intact
    }
  });
});

describe('rtl8139: hostile guests and teardown', () => {
  it('a huge TSD size or a buffer past guest memory aborts the descriptor (TABT, TER) with a warning; a ring past memory drops frames', () => {
    const { guest, bridge, clock, logs } = setup();
    up(guest);
    guest.out(IO + RTL.TSAD0, 4, TXBUF);
    guest.out(IO + RTL.TSD0, 4, TSD.SIZE);
    expect(guest.in(IO + RTL.TSD0, 4) & (TSD.TABT | TSD.OWN)).toBe(TSD.TABT | TSD.OWN);
    expect(guest.in(IO + RTL.ISR, 2) & INT.TER).toBe(INT.TER);
    guest.out(IO + RTL.TSAD0 + 4, 4, 0x00ff_ff00);
    guest.out(IO + RTL.TSD0 + 4, 4, 1500);
    expect(bridge!.sent).toEqual([]);
    guest.out(IO + RTL.RBSTART, 4, 0x00ff_0000);
    bridge!.inject('tap5.0', frameTo(MAC));
    clock.advance(0);
    const warns = logs.lines('warn').join('\n');
    expect(warns).toContain('dom5: rtl8139: tap5.0: TSD0: frame size 8191 is outside 14-1792: frame dropped');
    expect(warns).toMatch(/dom5: rtl8139: tap5\.0: TSD1: buffer 0xffff00 \(\+1500\) is not in guest memory/);
    expect(warns).toMatch(/tap5\.0: receive ring at 0xff0000 .* frame dropped/);
    expect(guest.in(IO + RTL.ISR, 2) & INT.RER).toBe(INT.RER);
  });

  it('register junk never throws out of the device model', () => {
    const { guest, logs, clock, bridge } = setup();
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.constantFrom(1, 2, 4), fc.integer({ min: 0, max: 0xffff_ffff })), { maxLength: 40 }), (writes) => {
        for (const [off, size, value] of writes) {
          const at = Math.min(off, 256 - size);
          guest.out(IO + at, size, size === 4 ? value : value % 2 ** (8 * size));
          guest.in(IO + at, size);
        }
        bridge!.inject('tap5.0', frameTo(MAC));
        clock.advance(0);
      }),
      { numRuns: 60, seed: 7 },
    );
    expect(logs.lines('error')).toEqual([]);
  });

  it("the platform device's UNPLUG_ALL_NICS takes the NIC off the PCI bus and its bridge", () => {
    const { guest, bridge, slot } = setup(undefined, { platform: true });
    expect(guest.cfgRead(slot, 0, 2)).toBe(0x10ec);
    guest.out(0x10, 2, 0x1); // disks only: the NIC stays
    expect(bridge!.ports()).toEqual(['tap5.0']);
    guest.out(0x10, 2, 0x2);
    expect(guest.cfgRead(slot, 0, 4)).toBe(0xffff_ffff);
    expect(guest.inb(IO)).toBe(0xff);
    expect(bridge!.ports()).toEqual([]);
  });

  it('one NIC per emulated rtl8139 vif, named tap<domid>.<devid>; a missing bridge leaves the link down; stop detaches', () => {
    const all = vifs('mac=00:16:3e:00:00:01', 'type=vif', 'model=e1000', 'model=rtl8139,devid=7,bridge=br1');
    expect(rtl8139Vifs(all).map((v) => v.devid)).toEqual([0, 7]);
    const bridges = new FakeBridges(['xenbr0']);
    const { run, logs, guest } = setup(['mac=00:16:3e:00:00:01', 'type=vif', 'model=e1000', 'model=rtl8139,devid=7,bridge=br1'], { bridges });
    expect(bridges.get('xenbr0').ports()).toEqual(['tap5.0']);
    expect(logs.lines('warn').join('\n')).toContain('dom5: rtl8139: tap5.7: cannot join bridge br1: no bridge named br1: link down');
    expect(logs.lines('info').join('\n')).toContain('tap5.7: vif 7 has no MAC in its config; using 00:16:3e:00:05:07');
    guest.cfgWrite(SLOT + 1, 0x10, 4, 0xc200);
    guest.cfgWrite(SLOT + 1, 0x04, 2, 0x1);
    expect(guest.inb(0xc200 + RTL.MSR) & 0x04).toBe(0x04);
    run.stop();
    expect(bridges.get('xenbr0').ports()).toEqual([]);
    expect(rtl8139Model(() => undefined).wanted(hvmConfig({ vif: vifs('type=vif') }), 'hvm')).toBe(false);
  });
});
