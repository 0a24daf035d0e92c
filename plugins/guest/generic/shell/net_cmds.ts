/**
 * Network commands over the kernel's stack: `ifconfig` (show, or set inet/inet6 addresses), FreeBSD's
 * `ping` (IPv4, and IPv6 with -6 or an IPv6 address; `ping6` too), `arp -a` / `ndp -a`, and `iperf`,
 * a UDP throughput tool (`iperf -s` counts what arrives, `iperf -c HOST` sends as fast as the ring takes).
 */
import type { VcpuRequest } from '../../../../core/api/index.js';
import { tsleep } from '../kern/kern_intr.js';
import { be32 } from '../net/checksum.js';
import { netStack } from '../net/kern_net.js';
import type { EchoReply } from '../net/echo.js';
import { NetError } from '../net/errors.js';
import type { CommandIo, ShellCommand } from './commands.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

const IPERF_PORT = 5001;

function fail(io: CommandIo, message: string): number {
  io.print(`${message}\n`);
  return 1;
}

/** Runs `fn`, printing a stack error (bad address, no route) as the command's own. */
function* guarded(io: CommandIo, fn: () => Gen<number>): Gen<number> {
  try {
    return yield* fn();
  } catch (error) {
    if (error instanceof NetError) return fail(io, error.message);
    throw error;
  }
}

const ifconfig: ShellCommand = {
  name: 'ifconfig',
  summary: 'show interfaces, or set addresses: ifconfig IF inet A.B.C.D/N | inet6 ADDR/N',
  *run(args, io) {
    const s = netStack(io.kernel);
    return yield* guarded(io, function* () {
      if (args.length <= 1) {
        io.print(s.ifconfig(args[0]));
        return 0;
      }
      const [name, family, addr] = args;
      if ((family !== 'inet' && family !== 'inet6') || addr === undefined || args.length > 3) return fail(io, 'usage: ifconfig [IF [inet ADDR/N | inet6 ADDR/N]]');
      s.configure(name!, family === 'inet' ? { inet: addr } : { inet6: addr });
      return 0;
    });
  },
};

function flags(args: readonly string[], spec: Record<string, boolean>): { opts: Map<string, string>; rest: string[] } | string {
  const opts = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-') || a === '-') {
      rest.push(a);
      continue;
    }
    const takes = spec[a];
    if (takes === undefined) return `unknown option ${a}`;
    if (takes) {
      const v = args[++i];
      if (v === undefined) return `option ${a} needs a value`;
      opts.set(a, v);
    } else opts.set(a, '');
  }
  return { opts, rest };
}

function* pingRun(args: readonly string[], io: CommandIo, six: boolean): Gen<number> {
  const k = io.kernel;
  const parsed = flags(args, { '-c': true, '-i': true, '-s': true, '-6': false, '-4': false });
  if (typeof parsed === 'string' || parsed.rest.length !== 1) return fail(io, `${six ? 'ping6' : 'ping'}: ${typeof parsed === 'string' ? parsed : 'usage: ping [-6] [-c count] [-i wait] [-s size] host'}`);
  const { opts, rest } = parsed;
  const host = rest[0]!;
  const count = Number(opts.get('-c') ?? '4');
  const wait = Number(opts.get('-i') ?? '1');
  const size = Number(opts.get('-s') ?? '56');
  if (!(Number.isInteger(count) && count > 0) || !(wait > 0) || !Number.isInteger(size)) return fail(io, 'ping: bad -c, -i or -s value');
  const v6 = six || opts.has('-6') || host.includes(':');
  const s = netStack(k);
  const id = (k.v.now / 1000) & 0xffff;
  const rtts: number[] = [];
  io.print(v6 ? `PING6(${size + 48}=40+8+${size} bytes) --> ${host}\n` : `PING ${host} (${host}): ${size} data bytes\n`);
  const mine: EchoReply[] = [];
  s.onEchoReply = (r) => {
    if (r.id === id) mine.push(r);
  };
  try {
    for (let seq = 0; seq < count; seq++) {
      const sent = k.v.now;
      s.ping(host, { id, seq, size });
      const got = () => mine.some((r) => r.seq === seq);
      yield* tsleep(k.bsp, got, sent + wait * 1e9);
      const r = mine.find((x) => x.seq === seq);
      if (r !== undefined) {
        const ms = ((r.receivedAt - (r.sentAt ?? sent)) / 1e6).toFixed(3);
        rtts.push(Number(ms));
        io.print(v6 ? `${r.bytes} bytes from ${r.from}, icmp_seq=${seq} hlim=${r.ttl} time=${ms} ms\n` : `${r.bytes} bytes from ${r.from}: icmp_seq=${seq} ttl=${r.ttl} time=${ms} ms\n`);
      } else if (!v6) io.print(`Request timeout for icmp_seq ${seq}\n`);
      if (seq + 1 < count && k.v.now < sent + wait * 1e9) yield* tsleep(k.bsp, () => false, sent + wait * 1e9);
    }
  } finally {
    s.onEchoReply = undefined;
  }
  const loss = (((count - rtts.length) / count) * 100).toFixed(1);
  io.print(`\n--- ${host} ping${v6 ? '6' : ''} statistics ---\n${count} packets transmitted, ${rtts.length} packets received, ${loss}% packet loss\n`);
  if (rtts.length > 0) {
    const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
    const sd = Math.sqrt(rtts.reduce((a, b) => a + (b - avg) ** 2, 0) / rtts.length);
    io.print(`round-trip min/avg/max/stddev = ${Math.min(...rtts).toFixed(3)}/${avg.toFixed(3)}/${Math.max(...rtts).toFixed(3)}/${sd.toFixed(3)} ms\n`);
  }
  return rtts.length > 0 ? 0 : 2;
}

const ping: ShellCommand = {
  name: 'ping',
  summary: 'send ICMP echo requests: ping [-6] [-c count] [-i wait] [-s size] host',
  *run(args, io) {
    return yield* guarded(io, () => pingRun(args, io, false));
  },
};

const ping6: ShellCommand = {
  name: 'ping6',
  summary: 'send ICMPv6 echo requests: ping6 [-c count] [-i wait] [-s size] host',
  *run(args, io) {
    return yield* guarded(io, () => pingRun(args, io, true));
  },
};

function neighbours(family: 4 | 6): ShellCommand {
  return {
    name: family === 4 ? 'arp' : 'ndp',
    summary: `show the ${family === 4 ? 'ARP' : 'neighbour discovery'} cache: ${family === 4 ? 'arp' : 'ndp'} -a`,
    *run(_args, io) {
      for (const n of netStack(io.kernel).neighbors().filter((x) => x.family === family)) {
        io.print(`? (${n.address}) at ${n.mac ?? '(incomplete)'} on ${n.ifname}${n.mac !== undefined ? ` expires in ${Math.round(n.expiresInNs / 1e9)} seconds` : ''} [ethernet]\n`);
      }
      return 0;
    },
  };
}

/** iperf's report line: `[  1] 0.0-1.0 sec  11.2 MBytes  94.1 Mbits/sec  8000 datagrams`. */
function report(io: CommandIo, bytes: number, ns: number, datagrams: number, lost?: number): void {
  const secs = ns / 1e9;
  const mbits = secs > 0 ? (bytes * 8) / secs / 1e6 : 0;
  io.print(`[  1] 0.0-${secs.toFixed(1)} sec  ${(bytes / (1 << 20)).toFixed(2)} MBytes  ${mbits.toFixed(1)} Mbits/sec  ${datagrams} datagrams${lost !== undefined ? `  ${lost} lost` : ''}\n`);
}

const iperf: ShellCommand = {
  name: 'iperf',
  summary: 'UDP throughput: iperf -s [-t secs] | iperf -c host [-t secs] [-l len] [-n datagrams]',
  *run(args, io) {
    const k = io.kernel;
    const parsed = flags(args, { '-s': false, '-c': true, '-t': true, '-l': true, '-n': true, '-p': true, '-u': false });
    if (typeof parsed === 'string' || parsed.opts.has('-s') === parsed.opts.has('-c')) return fail(io, `iperf: ${typeof parsed === 'string' ? parsed : 'usage: iperf -s | -c host'}`);
    const { opts } = parsed;
    const secs = Number(opts.get('-t') ?? '1');
    const len = Number(opts.get('-l') ?? '1470');
    const port = Number(opts.get('-p') ?? String(IPERF_PORT));
    const limit = opts.has('-n') ? Number(opts.get('-n')) : Infinity;
    if (!(secs > 0) || !Number.isInteger(len) || len < 8 || !(limit > 0)) return fail(io, 'iperf: bad -t, -l or -n value');
    const s = netStack(k);
    return yield* guarded(io, function* () {
      if (opts.has('-s')) {
        const sock = s.udpBind(port);
        io.print(`Server listening on UDP port ${port}\n`);
        let bytes = 0;
        let n = 0;
        let first = 0;
        let last = 0;
        let maxSeq = -1;
        try {
          const end = k.v.now + secs * 1e9;
          while (k.v.now < end && n < limit) {
            yield* tsleep(k.bsp, () => sock.pending > 0, end);
            for (let d = sock.recv(); d !== undefined; d = sock.recv()) {
              if (n === 0) first = d.receivedAt;
              last = d.receivedAt;
              bytes += d.data.length;
              n++;
              if (d.data.length >= 4) maxSeq = Math.max(maxSeq, be32(d.data, 0));
            }
          }
        } finally {
          sock.close();
        }
        report(io, bytes, last - first, n, maxSeq + 1 - n);
        return 0;
      }
      const host = opts.get('-c')!;
      const sock = s.udpBind(0);
      const data = new Uint8Array(len);
      const view = new DataView(data.buffer);
      let sent = 0;
      let bytes = 0;
      const t0 = k.v.now;
      const end = t0 + secs * 1e9;
      try {
        while (k.v.now < end && sent < limit) {
          view.setUint32(0, sent);
          if (sock.send(host, port, data)) {
            sent++;
            bytes += len;
            continue;
          }
          // The ring is full: let the backend drain it.
          yield* tsleep(k.bsp, () => false, k.v.now + 10_000);
        }
      } finally {
        sock.close();
      }
      io.print(`Client connecting to ${host}, UDP port ${port}\n`);
      report(io, bytes, k.v.now - t0, sent);
      return 0;
    });
  },
};

export const NET_COMMANDS: readonly ShellCommand[] = [ifconfig, ping, ping6, neighbours(4), neighbours(6), iperf];
