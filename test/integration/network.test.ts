/**
 * Issue 7's network acceptance: two guests on one bridge ping each other over IPv4 and IPv6 through
 * netfront → netback → the bridge, and tshark decodes the bridge's pcap with good checksums.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bridges, Consoles, Toolstack, type Toolstack as ToolstackApi } from '../../core/api/index.js';
import type { Consoles as ConsolesApi } from '../../core/api/console.js';
import type { Host } from '../../core/host/host.js';
import { NetworkBackend } from '../../plugins/backends/netback/index.js';
import { parseVifSpec } from '../../core/config/vifspec.js';
import { renderXlNetworkList, xlNetworkListView } from '../../core/cli/views/index.js';
import { settle } from '../plugins/dom0/toolstack/harness.js';
import { runUntil } from '../plugins/guest/generic/helpers.js';
import { bootHost, guestConsoles, loadDefinition, type GuestConsoles } from './machine.js';

let dir: string;
let host: Host;
let toolstack: ToolstackApi;
let consoles: ConsolesApi;

let g: GuestConsoles;
const domid = (name: string): number => g.domid(name);
const log = (name: string): string => g.log(name);
const shell = (name: string, line: string, expect?: string, limit?: number): string => g.shell(name, line, expect, limit);

function tshark(filter: string, fields: string[], options: string[] = []): string[] {
  const out = execFileSync('tshark', ['-r', join(dir, 'xenbr0.pcap'), ...options, '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.split('\n').filter((l) => l !== '');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xeno-net-'));
  const cfg = (name: string, type: string, mac: string) => `name = "${name}"\ntype = "${type}"\nkernel = "generic"\nmemory = 64\nvif = [ 'mac=${mac},bridge=xenbr0' ]\non_crash = "preserve"\n`;
  writeFileSync(join(dir, 'a.cfg'), cfg('net-a', 'pv', '00:16:3e:00:00:0a'));
  writeFileSync(join(dir, 'b.cfg'), cfg('net-b', 'pvh', '00:16:3e:00:00:0b'));
  writeFileSync(
    join(dir, 'machine.yaml'),
    ['name: net-test', 'seed: 1', 'cpus: { count: 2, mhz: 3000 }', 'memory: 1GiB', 'scheduler: credit', 'dom0: { memory: 256MiB, vcpus: 1 }',
      'plugins:', '  - credit', '  - xenstored', '  - xenconsoled', '  - toolstack', '  - pv', '  - pvh',
      `  - { name: bridge, options: { bridges: [ { name: xenbr0, pcap: ${join(dir, 'xenbr0.pcap')} } ] } }`, '  - netback', '  - generic-kernel',
      'domains: [a.cfg, b.cfg]', ''].join('\n'),
  );
  const booted = await bootHost(await loadDefinition(join(dir, 'machine.yaml')));
  host = booted.host;
  toolstack = host.plugins.resolveAll(Toolstack)[0]!;
  consoles = host.plugins.resolveAll(Consoles)[0]!;
  g = guestConsoles(host);
  const up = runUntil(host, () => ['net-a', 'net-b'].every((n) => toolstack.find(n) !== undefined && log(n).includes('boot: up') && log(n).includes('xn0: link state changed to UP')), 5e9);
  if (!up) throw new Error(`the guests did not come up:\n${booted.logs.lines('info').slice(-40).join('\n')}\n${['net-a', 'net-b'].map((n) => (toolstack.find(n) ? log(n) : `${n}: not created`)).join('\n')}`);
  shell('net-a', 'ifconfig xn0 inet 10.0.0.1/24');
  shell('net-b', 'ifconfig xn0 inet 10.0.0.2/24');
  shell('net-a', 'ifconfig xn0 inet6 fd00::1/64');
  shell('net-b', 'ifconfig xn0 inet6 fd00::2/64');
}, 60_000);

afterAll(async () => {
  await host?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('netfront, netback and the bridge', () => {
  it('each guest has xn0 with the MAC of its vif, plugged into xenbr0 as vif<domid>.0', () => {
    expect(log('net-a')).toContain('xn0: Ethernet address: 00:16:3e:00:00:0a');
    expect(shell('net-b', 'ifconfig xn0')).toMatch(/ether 00:16:3e:00:00:0b[\s\S]*inet 10\.0\.0\.2 netmask 0xffffff00 broadcast 10\.0\.0\.255/);
    const bridge = host.plugins.resolveAll(Bridges)[0]!.get('xenbr0');
    expect(bridge.ports().sort()).toEqual([`vif${domid('net-a')}.0`, `vif${domid('net-b')}.0`].sort());
  });

  it('ping over IPv4 and IPv6 both ways', () => {
    expect(shell('net-a', 'ping -c 3 10.0.0.2', 'packet loss', 10e9)).toMatch(/3 packets transmitted, 3 packets received, 0\.0% packet loss/);
    expect(shell('net-a', '', '# ')).toBeDefined();
    expect(shell('net-b', 'ping -c 2 10.0.0.1', 'packet loss', 10e9)).toMatch(/64 bytes from 10\.0\.0\.1: icmp_seq=1 ttl=64/);
    shell('net-b', '', '# ');
    expect(shell('net-a', 'ping6 -c 2 fd00::2', 'packet loss', 10e9)).toMatch(/16 bytes from fd00::2, icmp_seq=0 hlim=64|2 packets received/);
    shell('net-a', '', '# ');
    const vifs = host.plugins.resolveAll(NetworkBackend)[0]!.list();
    expect(vifs.every((v) => v.connected && v.stats!.txPackets > 0 && v.stats!.rxPackets > 0)).toBe(true);
  });

  it('tshark reads the ARP exchange, the echo pairs and the neighbour discovery from the bridge\'s pcap, checksums good', () => {
    (host.plugins.resolveAll(Bridges)[0]! as unknown as { flush(): void }).flush();
    expect(tshark('arp', ['arp.opcode', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4'])).toEqual(expect.arrayContaining(['1\t10.0.0.1\t10.0.0.2', '2\t10.0.0.2\t10.0.0.1']));
    const echo = tshark('icmp', ['icmp.type', 'ip.src', 'ip.dst', 'ip.checksum.status', 'icmp.checksum.status'], ['-o', 'ip.check_checksum:TRUE']);
    // Wireshark's checksum status: 1 = good (0 bad, 2 unverified).
    expect(echo).toContain('8\t10.0.0.1\t10.0.0.2\t1\t1');
    expect(echo).toContain('0\t10.0.0.2\t10.0.0.1\t1\t1');
    expect(echo.every((l) => l.endsWith('\t1\t1'))).toBe(true);
    const v6 = tshark('icmpv6', ['icmpv6.type', 'ipv6.src', 'ipv6.dst', 'icmpv6.checksum.status']);
    expect(v6.some((l) => l.startsWith('135\t'))).toBe(true);
    expect(v6.some((l) => l.startsWith('136\t'))).toBe(true);
    expect(v6).toContain('128\tfd00::1\tfd00::2\t1');
    expect(v6).toContain('129\tfd00::2\tfd00::1\t1');
    expect(v6.every((l) => l.endsWith('\t1'))).toBe(true);
  });

  it('iperf: UDP datagrams from one guest reach the other', () => {
    consoles.input(domid('net-b'), 'iperf -s -t 0.5\r');
    runUntil(host, () => log('net-b').includes('Server listening'), 1e9);
    expect(shell('net-a', 'iperf -c 10.0.0.2 -n 200 -l 1000', 'datagrams')).toMatch(/200 datagrams/);
    const out = shell('net-b', '', 'datagrams');
    expect(out).toMatch(/ 200 datagrams  0 lost/);
  });

  it('network-attach to a bridge Dom0 lacks fails with netback\'s error; attach and detach on xenbr0 bring xn1 up and down', () => {
    const missing = settle(host, toolstack.networkAttach(domid('net-a'), parseVifSpec('bridge=xenbr9').value!));
    expect(missing.error?.message).toMatch(/vif-bridge: bridge xenbr9 does not exist \(bridges: xenbr0\)/);
    expect(settle(host, toolstack.networkDetach(domid('net-a'), '1')).error).toBeUndefined();
    const added = settle(host, toolstack.networkAttach(domid('net-a'), parseVifSpec('mac=00:16:3e:00:00:1a,bridge=xenbr0').value!));
    expect(added.result).toBe(1);
    expect(runUntil(host, () => log('net-a').includes('xn1: link state changed to UP'), 2e9)).toBe(true);
    const rows = xlNetworkListView(host, ['net-a']);
    expect(rows.map((r) => [r.idx, r.mac, r.state])).toEqual([[0, '00:16:3e:00:00:0a', 4], [1, '00:16:3e:00:00:1a', 4]]);
    expect(renderXlNetworkList(rows).split('\n')[0]).toBe('Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path                       ');
    expect(settle(host, toolstack.networkDetach(domid('net-a'), '00:16:3e:00:00:1a')).error).toBeUndefined();
    expect(runUntil(host, () => log('net-a').includes('xn1: detached'), 2e9)).toBe(true);
    expect(host.plugins.resolveAll(Bridges)[0]!.get('xenbr0').ports()).not.toContain(`vif${domid('net-a')}.1`);
    expect(shell('net-a', 'ping -c 1 10.0.0.2', 'packet loss', 10e9)).toMatch(/1 packets received/);
  });
});
