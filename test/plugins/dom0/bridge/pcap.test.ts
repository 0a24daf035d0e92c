/** The bridge's pcap capture: the file format byte by byte, buffered writes, and tshark decoding real frames of two guests. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PCAP_FLUSH_BYTES, PcapWriter } from '../../../../plugins/dom0/bridge/pcap.js';
import { BCAST, RecordingPort, frame, mac, makeBridge } from './helpers.js';
import { guestOnBridge } from './wired.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bridge-pcap-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** tshark's fields for each frame of `file`, one array per frame. */
function tshark(file: string, fields: string[], filter?: string): string[][] {
  const args = ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=f'];
  if (filter) args.push('-Y', filter);
  for (const f of fields) args.push('-e', f);
  const out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out.trimEnd().split('\n').map((line) => line.split('|'));
}

describe('the pcap writer', () => {
  it('writes the classic header (LE magic, v2.4, snaplen 65535, Ethernet) and records stamped with virtual time', () => {
    const path = join(dir, 'sub', 'a.pcap');
    const w = new PcapWriter(path);
    w.write(Uint8Array.of(1, 2, 3), 3_123_456_789);
    w.close();
    w.close();
    const b = readFileSync(path);
    expect(b.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect([b.readUInt16LE(4), b.readUInt16LE(6), b.readInt32LE(8), b.readUInt32LE(12), b.readUInt32LE(16), b.readUInt32LE(20)]).toEqual([2, 4, 0, 0, 65535, 1]);
    expect([b.readUInt32LE(24), b.readUInt32LE(28), b.readUInt32LE(32), b.readUInt32LE(36)]).toEqual([3, 123456, 3, 3]);
    expect([...b.subarray(40)]).toEqual([1, 2, 3]);
  });

  it('cuts frames to the snap length, keeping the original length', () => {
    const path = join(dir, 'snap.pcap');
    const w = new PcapWriter(path, 64);
    w.write(new Uint8Array(100).fill(7), 0);
    w.close();
    const b = readFileSync(path);
    expect([b.readUInt32LE(16), b.readUInt32LE(32), b.readUInt32LE(36), b.length]).toEqual([64, 64, 100, 24 + 16 + 64]);
  });

  it('buffers records in memory and writes them in one go past 256 KiB, on flush and on close', () => {
    const path = join(dir, 'big.pcap');
    const w = new PcapWriter(path);
    const f = new Uint8Array(1514);
    const perRecord = 16 + f.length;
    const fit = Math.floor((PCAP_FLUSH_BYTES - 1) / perRecord);
    for (let i = 0; i < fit; i++) w.write(f, i * 1000);
    expect(statSync(path).size).toBe(24);
    w.write(f, 0);
    expect(statSync(path).size).toBe(24 + (fit + 1) * perRecord);
    expect(w.buffered).toBe(0);
    w.write(f, 0);
    w.flush();
    expect(statSync(path).size).toBe(24 + (fit + 2) * perRecord);
    w.write(f, 0);
    w.close();
    expect(statSync(path).size).toBe(24 + (fit + 3) * perRecord);
  });
});

describe('a bridge with a pcap file', () => {
  it('captures each frame it forwards once (not once per copy), and nothing it drops', () => {
    const path = join(dir, 'once.pcap');
    const { bridge } = makeBridge({ pcap: new PcapWriter(path) });
    const ports = [new RecordingPort('a'), new RecordingPort('b'), new RecordingPort('c')];
    const [sa, sb] = ports.map((p) => bridge.attach(p));
    sa!.send(frame(BCAST, mac(1)));
    sb!.send(frame(mac(1), mac(2)));
    sa!.send(frame(mac(1), mac(1)));
    sa!.send(new Uint8Array(10));
    expect(bridge.pcapPath).toBe(path);
    bridge.close();
    expect(tshark(path, ['eth.src', 'eth.dst'])).toEqual([
      ['02:00:00:00:00:01', 'ff:ff:ff:ff:ff:ff'],
      ['02:00:00:00:00:02', '02:00:00:00:00:01'],
    ]);
  });

  it('lets tshark decode two guests\' ARP, ICMP echo, ND, ICMPv6 echo and UDP, every checksum good', () => {
    const path = join(dir, 'guests.pcap');
    const { bridge, clock } = makeBridge({ pcap: new PcapWriter(path) });
    const now = () => clock.t;
    const a = guestOnBridge(bridge, now, 1, '10.0.0.1/24', 'fd00::1/64');
    const b = guestOnBridge(bridge, now, 2, '10.0.0.2/24', 'fd00::2/64');
    const echo = b.udpBind(7);
    echo.onReadable = () => {
      for (let d = echo.recv(); d; d = echo.recv()) echo.send(d.fromAddr, d.fromPort, d.data);
    };
    a.ping('10.0.0.2', { id: 0x77, seq: 0 });
    clock.t += 1_500_000;
    a.ping('fd00::2', { id: 0x77, seq: 1 });
    clock.t += 250_000;
    a.udpSend(40000, '10.0.0.2', 7, new TextEncoder().encode('hello v4'));
    a.udpSend(40000, 'fd00::2', 7, new TextEncoder().encode('hello v6'));
    expect(a.takeEchoReplies().map((r) => r.from)).toEqual(['10.0.0.2', 'fd00::2']);
    bridge.close();

    const rows = tshark(path, ['frame.time_epoch', 'eth.src', 'eth.dst', '_ws.col.Protocol', 'arp.opcode', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4', 'ip.checksum.status', 'icmp.type', 'icmp.checksum.status', 'icmp.seq', 'ipv6.hlim', 'icmpv6.type', 'icmpv6.checksum.status', 'icmpv6.nd.ns.target_address', 'icmpv6.nd.na.target_address', 'icmpv6.opt.linkaddr', 'icmpv6.echo.sequence_number', 'udp.checksum.status', 'udp.payload', '_ws.malformed']);
    const A = '00:16:3e:00:00:01';
    const B = '00:16:3e:00:00:02';
    const hex = (s: string) => Buffer.from(s).toString('hex');
    const blank = (n: number) => new Array<string>(n).fill('');
    expect(rows).toEqual([
      ['5.000000000', A, 'ff:ff:ff:ff:ff:ff', 'ARP', '1', '10.0.0.1', '10.0.0.2', ...blank(14)],
      ['5.000000000', B, A, 'ARP', '2', '10.0.0.2', '10.0.0.1', ...blank(14)],
      ['5.000000000', A, B, 'ICMP', '', '', '', '1', '8', '1', '0', ...blank(10)],
      ['5.000000000', B, A, 'ICMP', '', '', '', '1', '0', '1', '0', ...blank(10)],
      ['5.001500000', A, '33:33:ff:00:00:02', 'ICMPv6', ...blank(7), '255', '135', '1', 'fd00::2', '', A, ...blank(4)],
      ['5.001500000', B, A, 'ICMPv6', ...blank(7), '255', '136', '1', '', 'fd00::2', B, ...blank(4)],
      ['5.001500000', A, B, 'ICMPv6', ...blank(7), '64', '128', '1', '', '', '', '1', ...blank(3)],
      ['5.001500000', B, A, 'ICMPv6', ...blank(7), '64', '129', '1', '', '', '', '1', ...blank(3)],
      ['5.001750000', A, B, 'ECHO', ...blank(3), '1', ...blank(10), '1', hex('hello v4'), ''],
      ['5.001750000', B, A, 'ECHO', ...blank(3), '1', ...blank(10), '1', hex('hello v4'), ''],
      ['5.001750000', A, B, 'ECHO', ...blank(3), '', ...blank(3), '64', ...blank(6), '1', hex('hello v6'), ''],
      ['5.001750000', B, A, 'ECHO', ...blank(3), '', ...blank(3), '64', ...blank(6), '1', hex('hello v6'), ''],
    ]);
  });

  it('stops capturing (logging why, once) when the file cannot be written, and keeps forwarding', () => {
    class FailingWriter extends PcapWriter {
      override write(): void {
        throw new Error('ENOSPC: no space left on device, write');
      }
    }
    const { bridge, logs } = makeBridge({ pcap: new FailingWriter(join(dir, 'full.pcap')) });
    const [a, b] = [new RecordingPort('a'), new RecordingPort('b')];
    const sa = bridge.attach(a);
    bridge.attach(b);
    sa.send(frame(BCAST, mac(1)));
    sa.send(frame(BCAST, mac(1)));
    expect(b.take()).toBe(2);
    expect(logs.lines('error')).toEqual([`plugin bridge: bridge xenbr0: pcap ${join(dir, 'full.pcap')}: ENOSPC: no space left on device, write; capture stopped`]);
  });

  it('shows tshark flagging a frame whose checksums are broken (the check above is not vacuous)', () => {
    const path = join(dir, 'bad.pcap');
    const { bridge, clock } = makeBridge({ pcap: new PcapWriter(path) });
    const a = guestOnBridge(bridge, () => clock.t, 1, '10.0.0.1/24', 'fd00::1/64');
    guestOnBridge(bridge, () => clock.t, 2, '10.0.0.2/24', 'fd00::2/64');
    a.udpSend(40000, '10.0.0.2', 9, Uint8Array.of(1, 2, 3));
    const spy = new RecordingPort('spy');
    const plug = bridge.attach(spy);
    clock.t += 301e9;
    a.udpSend(40000, '10.0.0.2', 9, Uint8Array.of(1, 2, 3));
    const bad = spy.got[0]!;
    bad[24] = bad[24]! ^ 1;
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
    plug.send(bad);
    bridge.close();
    expect(tshark(path, ['ip.checksum.status', 'udp.checksum.status'], 'udp').map((r) => r.join(' '))).toEqual(['1 1', '1 1', '0 0']);
  });
});
