/**
 * Split-driver benchmarks (issue 7): 4 KiB requests through blkfront → blkback → a page-cache-hot raw
 * file, and UDP frames between two netfronts over a bridge — wall-clock rates of the whole simulation.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Consoles, HvmPlatforms, Toolstack } from '../../core/api/index.js';
import type { Host } from '../../core/host/host.js';
import { runUntil } from '../plugins/guest/generic/helpers.js';
import { bootHost, loadDefinition } from '../integration/machine.js';
import { type Benchmark, nowMs } from './harness.js';

interface Rig {
  host: Host;
  /** Types a line and runs the host until `expect` shows after it; returns the output and the wall ms it took. */
  shell(name: string, line: string, expect: string, limitNs?: number): { out: string; ms: number };
  done(): Promise<void>;
}

async function rig(domains: Record<string, (dir: string) => string>, plugins: string[], ready: (log: string) => boolean): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'xeno-bench-'));
  for (const [name, cfg] of Object.entries(domains)) writeFileSync(join(dir, `${name}.cfg`), cfg(dir));
  writeFileSync(
    join(dir, 'machine.yaml'),
    ['name: bench', 'seed: 1', 'cpus: { count: 2, mhz: 3000 }', 'memory: 2GiB', 'scheduler: credit', 'dom0: { memory: 256MiB, vcpus: 1 }', 'plugins:', ...plugins.map((p) => `  - ${p}`), `domains: [${Object.keys(domains).map((n) => `${n}.cfg`).join(', ')}]`, ''].join('\n'),
  );
  const { host } = await bootHost(await loadDefinition(join(dir, 'machine.yaml')));
  const toolstack = host.plugins.resolveAll(Toolstack)[0]!;
  const consoles = host.plugins.resolveAll(Consoles)[0]!;
  const log = (name: string) => consoles.log(toolstack.find(name)!.domid);
  if (!runUntil(host, () => Object.keys(domains).every((n) => toolstack.find(n) !== undefined && ready(log(n))), 10e9)) throw new Error('the guests did not come up');
  return {
    host,
    shell(name, line, expect, limitNs = 60e9) {
      const domid = toolstack.find(name)!.domid;
      // What the guest writes from now on, as it writes it (cheaper to watch than the whole log).
      let out = '';
      const stop = consoles.onOutput(domid, (text) => void (out += text));
      try {
        const t0 = nowMs();
        consoles.input(domid, `${line}\r`);
        if (!runUntil(host, () => out.includes(expect), limitNs)) throw new Error(`${name}: no "${expect}" after "${line}": ${out.slice(-300)}`);
        return { out, ms: nowMs() - t0 };
      } finally {
        stop();
      }
    },
    async done() {
      await host.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const REQUESTS = Number(process.env.BENCH_BLK_REQUESTS ?? 100_000);


export const benchmarks: Benchmark[] = [
  {
    group: 'split drivers',
    name: '4 KiB reads through blkfront → blkback → raw file (page-cache hot), queue depth 32',
    unit: 'k requests/s wall',
    target: { min: 200 },
    run: async () => {
      const r = await rig(
        { disk: (dir) => {
          const image = join(dir, 'disk.raw');
          writeFileSync(image, new Uint8Array(64 << 20).map((_, i) => i & 0xff));
          return `name = "disk"\ntype = "pvh"\nkernel = "generic"\nmemory = 128\ndisk = [ '${image},raw,xvda,rw' ]\n`;
        } },
        ['credit', 'xenstored', 'xenconsoled', 'toolstack', 'pvh', 'disk-images', 'blkback', 'generic-kernel'],
        (log) => log.includes('boot: up') && log.includes('xbd0: features'),
      );
      try {
        // Warm the page cache and the JIT: V8 is still optimizing the path for the first ~50 k requests, which
        // run at a third of the steady rate (more so while another process has the other core).
        r.shell('disk', 'diskbench xbd0 -n 50000', 'IOPS');
        const { out, ms } = r.shell('disk', `diskbench xbd0 -n ${REQUESTS}`, 'IOPS');
        const sim = /: ([\d.]+) s, (\d+) IOPS/.exec(out);
        return { value: REQUESTS / ms, detail: `${REQUESTS} reads in ${(ms / 1000).toFixed(2)} s wall; ${sim ? `${sim[2]} IOPS in simulated time` : ''}` };
      } finally {
        await r.done();
      }
    },
  },
  {
    group: 'split drivers',
    name: 'UDP frames (1472-byte payloads) between two netfronts over a bridge',
    unit: 'Gbit/s wall',
    target: { min: 1 },
    run: async () => {
      const cfg = (name: string, mac: string) => () => `name = "${name}"\ntype = "pvh"\nkernel = "generic"\nmemory = 128\nvif = [ 'mac=${mac},bridge=xenbr0' ]\n`;
      const r = await rig({ tx: cfg('tx', '00:16:3e:00:01:01'), rx: cfg('rx', '00:16:3e:00:01:02') }, ['credit', 'xenstored', 'xenconsoled', 'toolstack', 'pvh', 'bridge', 'netback', 'generic-kernel'], (log) => log.includes('boot: up') && log.includes('xn0: link state changed to UP'));
      try {
        r.shell('tx', 'ifconfig xn0 inet 10.1.0.1/24', '# ');
        r.shell('rx', 'ifconfig xn0 inet 10.1.0.2/24', '# ');
        r.shell('tx', 'ping -c 1 10.1.0.2', 'packet loss');
        // Warm the JIT with a short exchange: the first ~0.05 s of traffic runs at two thirds of the steady rate.
        r.shell('rx', 'iperf -s -t 0.1', 'Server listening', 1e9);
        r.shell('tx', 'iperf -c 10.1.0.2 -t 0.05 -l 1472', 'datagrams');
        r.shell('rx', '', 'datagrams', 5e9);
        r.shell('rx', 'iperf -s -t 0.5', 'Server listening', 1e9);
        const { out, ms } = r.shell('tx', 'iperf -c 10.1.0.2 -t 0.2 -l 1472', 'datagrams');
        const sent = Number(/(\d+) datagrams/.exec(out)?.[1] ?? 0);
        const got = r.shell('rx', '', 'datagrams', 5e9).out;
        const received = Number(/(\d+) datagrams/.exec(got)?.[1] ?? 0);
        // Frames on the wire: payload + UDP 8 + IPv4 20 + Ethernet 14.
        const bits = received * (1472 + 42) * 8;
        return { value: bits / (ms / 1000) / 1e9, detail: `${received} of ${sent} datagrams arrived in ${(ms / 1000).toFixed(2)} s wall` };
      } finally {
        await r.done();
      }
    },
  },
  {
    group: 'split drivers',
    name: 'PV against emulated, simulated time: 4 KiB disk reads (queue depth 1) and UDP, PVHVM (xbd0, xn0) beside plain HVM (ada0 on PIIX IDE, rl0 on RTL8139)',
    unit: '× PV disk IOPS over emulated',
    run: async () => {
      const hvm = (name: string, platform: number, mac: string) => (dir: string) => {
        const image = join(dir, `${name}.raw`);
        writeFileSync(image, new Uint8Array(16 << 20));
        return `name = "${name}"\ntype = "hvm"\nkernel = "generic"\nmemory = 128\nxen_platform_pci = ${platform}\nserial = "pty"\ndisk = [ '${image},raw,xvda,rw' ]\nvif = [ 'mac=${mac},bridge=xenbr0,model=rtl8139' ]\n`;
      };
      const sink = () => `name = "sink"\ntype = "pvh"\nkernel = "generic"\nmemory = 64\nvif = [ 'mac=00:16:3e:00:02:09,bridge=xenbr0' ]\n`;
      const r = await rig(
        { pv: hvm('pv', 1, '00:16:3e:00:02:01'), emu: hvm('emu', 0, '00:16:3e:00:02:02'), sink },
        ['credit', 'xenstored', 'xenconsoled', 'toolstack', 'pvh', 'hvm', 'pvhvm', 'device-model', 'uart16550', 'pit8254', 'rtc146818', 'xen-platform', 'acpi-pm', 'piix-ide', 'rtl8139', 'disk-images', 'blkback', 'bridge', 'netback', 'generic-kernel'],
        (log) => log.includes('boot: up') && /(xn0|rl0): link state changed to UP|rl0: Ethernet address/.test(log),
      );
      try {
        const toolstack = r.host.plugins.resolveAll(Toolstack)[0]!;
        const exits = r.host.container.resolve(HvmPlatforms);
        const measure = (name: string, line: string, expect: string): { out: string; exits: number } => {
          const before = exits.exits(toolstack.find(name)!.domid).total;
          const out = r.shell(name, line, expect).out;
          return { out, exits: exits.exits(toolstack.find(name)!.domid).total - before };
        };
        const N = 2000;
        const disk = (name: string, dev: string) => {
          const m = measure(name, `diskbench ${dev} -n ${N} -q 1`, 'IOPS');
          return { iops: Number(/(\d+) IOPS/.exec(m.out)?.[1] ?? 0), exitsPerIo: m.exits / N };
        };
        const pvDisk = disk('pv', 'xbd0');
        const emuDisk = disk('emu', 'ada0');
        r.shell('sink', 'ifconfig xn0 inet 10.2.0.9/24', '# ');
        r.shell('pv', 'ifconfig xn0 inet 10.2.0.1/24', '# ');
        r.shell('emu', 'ifconfig rl0 inet 10.2.0.2/24', '# ');
        const net = (name: string) => {
          r.shell(name, 'ping -c 1 10.2.0.9', 'packet loss');
          const m = measure(name, 'iperf -c 10.2.0.9 -n 2000 -l 1472', 'datagrams');
          const mbits = Number(/([\d.]+) Mbits\/sec/.exec(m.out)?.[1] ?? 0);
          return { mbits, exitsPerPacket: m.exits / 2000 };
        };
        const pvNet = net('pv');
        const emuNet = net('emu');
        const f = (x: number) => x.toFixed(1);
        return {
          value: pvDisk.iops / Math.max(1, emuDisk.iops),
          detail: `disk: PV ${pvDisk.iops} IOPS, ${f(pvDisk.exitsPerIo)} VM exits/read; emulated ${emuDisk.iops} IOPS, ${f(emuDisk.exitsPerIo)} VM exits/read. UDP send: PV ${pvNet.mbits} Mbit/s, ${f(pvNet.exitsPerPacket)} exits/packet; emulated ${emuNet.mbits} Mbit/s, ${f(emuNet.exitsPerPacket)} exits/packet (simulated time)`,
        };
      } finally {
        await r.done();
      }
    },
  },
];

