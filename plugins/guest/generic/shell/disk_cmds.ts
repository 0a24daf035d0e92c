/**
 * Disk commands over any attached disk (xbd0, ada0): `diskinfo`, FreeBSD's `dd` (devices only: /dev/zero,
 * /dev/null and the disks), and `diskcheck`, which writes sectors stamped with their number and a
 * generation and checks them back — what a test reads with qemu-io afterwards.
 */
import type { VcpuRequest } from '../../../../core/api/index.js';
import { DiskIoError, type DiskDev } from '../kern/disk.js';
import type { Kernel } from '../kern/kernel.js';
import type { CommandIo, ShellCommand } from './commands.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

function findDisk(k: Kernel, name: string): DiskDev | undefined {
  const bare = name.replace(/^\/dev\//, '');
  return k.disks.find((d) => d.name === bare);
}

/** `4k`, `1m`, `512`: dd's sizes. */
function parseSize(text: string): number | undefined {
  const m = /^(\d+)([kmg]?)$/i.exec(text);
  if (m === null) return undefined;
  const mult = { '': 1, k: 1024, m: 1 << 20, g: 1 << 30 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}

const diskinfo: ShellCommand = {
  name: 'diskinfo',
  summary: 'describe disks: diskinfo [-v] [disk ...]',
  *run(args, io) {
    const verbose = args.includes('-v');
    const names = args.filter((a) => a !== '-v');
    const disks = names.length === 0 ? io.kernel.disks : names.map((n) => findDisk(io.kernel, n));
    let status = 0;
    disks.forEach((d, i) => {
      if (d === undefined) {
        io.print(`diskinfo: ${names[i]}: no such disk\n`);
        status = 1;
        return;
      }
      const bytes = d.sectors * d.sectorSize;
      if (!verbose) io.print(`${d.name}\t${d.sectorSize}\t${bytes}\t${d.sectors}\n`);
      else io.print(`${d.name}\n\t${d.sectorSize}\t# sectorsize\n\t${bytes}\t# mediasize in bytes (${(bytes / (1 << 20)).toFixed(0)}M)\n\t${d.sectors}\t# mediasize in sectors\n\t${d.description}\t# Disk descr.\n\t${d.readOnly ? 'Yes' : 'No'}\t# Read-only\n`);
    });
    return status;
  },
};

/** FreeBSD dd's closing lines. */
function summary(io: CommandIo, records: number, bytes: number, ns: number): void {
  const secs = ns / 1e9;
  io.print(`${records}+0 records in\n${records}+0 records out\n${bytes} bytes transferred in ${secs.toFixed(6)} secs (${secs > 0 ? Math.floor(bytes / secs) : 0} bytes/sec)\n`);
}

const dd: ShellCommand = {
  name: 'dd',
  summary: 'copy blocks: dd if=SRC of=DST bs=N count=N [skip=N] [seek=N] [conv=fsync]',
  *run(args, io) {
    const k = io.kernel;
    const opt = new Map<string, string>();
    for (const a of args) {
      const eq = a.indexOf('=');
      if (eq < 0 || !['if', 'of', 'bs', 'count', 'skip', 'seek', 'conv'].includes(a.slice(0, eq))) {
        io.print(`dd: unknown operand ${a}\n`);
        return 1;
      }
      opt.set(a.slice(0, eq), a.slice(eq + 1));
    }
    const bs = parseSize(opt.get('bs') ?? '512');
    const count = Number(opt.get('count') ?? 'NaN');
    const skip = Number(opt.get('skip') ?? '0');
    const seek = Number(opt.get('seek') ?? '0');
    const fsync = (opt.get('conv') ?? '').split(',').includes('fsync');
    if (bs === undefined || bs === 0 || bs % 512 !== 0) {
      io.print('dd: bs must be a whole number of 512-byte sectors\n');
      return 1;
    }
    if (!Number.isInteger(count) || count < 0 || !Number.isInteger(skip) || !Number.isInteger(seek)) {
      io.print('dd: count (and skip, seek) must be whole numbers\n');
      return 1;
    }
    const src = opt.get('if') ?? '/dev/zero';
    const dst = opt.get('of') ?? '/dev/null';
    const input = src === '/dev/zero' ? undefined : findDisk(k, src);
    const output = dst === '/dev/null' ? undefined : findDisk(k, dst);
    if (src !== '/dev/zero' && input === undefined) return fail(io, `dd: ${src}: no such device`);
    if (dst !== '/dev/null' && output === undefined) return fail(io, `dd: ${dst}: no such device`);
    const per = bs / 512;
    const zero = new Uint8Array(bs);
    const t0 = k.v.now;
    try {
      for (let i = 0; i < count; i++) {
        const block = input === undefined ? zero : yield* input.read(k.bsp, (skip + i) * per, per);
        if (output !== undefined) yield* output.write(k.bsp, (seek + i) * per, block);
      }
      if (fsync && output !== undefined) yield* output.flush(k.bsp);
    } catch (error) {
      if (error instanceof DiskIoError) return fail(io, `dd: ${error.message}`);
      throw error;
    }
    summary(io, count, count * bs, k.v.now - t0);
    return 0;
  },
};

function fail(io: CommandIo, message: string): number {
  io.print(`${message}\n`);
  return 1;
}

/** A sector stamped for diskcheck: its number and the generation in the first 16 bytes, then a byte pattern from both. */
export function stampSector(lba: number, generation: number): Uint8Array {
  const s = new Uint8Array(512);
  const view = new DataView(s.buffer);
  view.setUint32(0, 0x4b534944, true); // "DISK"
  view.setUint32(4, generation, true);
  view.setFloat64(8, lba, true);
  for (let i = 16; i < 512; i++) s[i] = (lba * 31 + generation * 7 + i) & 0xff;
  return s;
}

function* checkRange(io: CommandIo, d: DiskDev, start: number, count: number, generation: number, chunk: number): Gen<number> {
  const k = io.kernel;
  let bad = 0;
  for (let lba = start; lba < start + count; lba += chunk) {
    const n = Math.min(chunk, start + count - lba);
    const got = yield* d.read(k.bsp, lba, n);
    for (let i = 0; i < n; i++) {
      const want = stampSector(lba + i, generation);
      const have = got.subarray(i * 512, (i + 1) * 512);
      if (have.some((b, j) => b !== want[j])) {
        if (bad < 5) io.print(`diskcheck: ${d.name}: sector ${lba + i} does not hold generation ${generation}\n`);
        bad++;
      }
    }
  }
  return bad;
}

const diskcheck: ShellCommand = {
  name: 'diskcheck',
  summary: 'diskcheck write|verify|fill DISK START COUNT [GEN|BYTE] [-f EVERY]: stamp, check or fill sectors (-f: flush every EVERY sectors)',
  *run(args, io) {
    const k = io.kernel;
    const flushAt = args.indexOf('-f');
    const every = flushAt >= 0 ? Number(args[flushAt + 1]) : 0;
    const rest = flushAt >= 0 ? [...args.slice(0, flushAt), ...args.slice(flushAt + 2)] : [...args];
    const [mode, name = '', startText = '0', countText = '', genText = '1'] = rest;
    const d = findDisk(k, name);
    const start = Number(startText);
    const count = countText === '' ? (d?.sectors ?? 0) - start : Number(countText);
    const generation = Number(genText);
    if ((mode !== 'write' && mode !== 'verify' && mode !== 'fill') || d === undefined || ![start, count, generation].every((n) => Number.isInteger(n) && n >= 0) || (flushAt >= 0 && !(every > 0))) {
      return fail(io, d === undefined && name !== '' ? `diskcheck: ${name}: no such disk` : `usage: ${this.summary.split(':')[0]}`);
    }
    const chunk = 64;
    try {
      if (mode === 'verify') {
        const bad = yield* checkRange(io, d, start, count, generation, chunk);
        io.print(bad === 0 ? `diskcheck: ${d.name}: ${count} sectors from ${start} hold generation ${generation}\n` : `diskcheck: ${d.name}: ${bad} of ${count} sectors bad\n`);
        return bad === 0 ? 0 : 1;
      }
      let sinceFlush = 0;
      for (let lba = start; lba < start + count; ) {
        const n = Math.min(every > 0 ? every - sinceFlush : chunk, chunk, start + count - lba);
        const data = new Uint8Array(n * 512);
        if (mode === 'fill') data.fill(generation & 0xff);
        else for (let i = 0; i < n; i++) data.set(stampSector(lba + i, generation), i * 512);
        yield* d.write(k.bsp, lba, data);
        lba += n;
        sinceFlush += n;
        if (every > 0 && sinceFlush >= every) {
          yield* d.flush(k.bsp);
          sinceFlush = 0;
          // What a power-cut test trusts: everything below this sector is on stable storage.
          io.print(`diskcheck: ${d.name}: flushed through sector ${lba}\n`);
        }
      }
      if (every > 0 && sinceFlush > 0) yield* d.flush(k.bsp);
      io.print(`diskcheck: ${d.name}: wrote ${count} sectors from ${start}, ${mode === 'fill' ? `byte 0x${(generation & 0xff).toString(16)}` : `generation ${generation}`}\n`);
      return 0;
    } catch (error) {
      if (error instanceof DiskIoError) return fail(io, `diskcheck: ${error.message}`);
      throw error;
    }
  },
};

/**
 * diskbench: `-n` reads of `-b` bytes, sequential (wrapping at the end) or with `-r` spread over the disk by
 * a fixed stride (so runs repeat), `-q` in flight at once where the driver can (readv); reports simulated-time
 * IOPS and throughput.
 */
const diskbench: ShellCommand = {
  name: 'diskbench',
  summary: 'read throughput: diskbench DISK [-n requests] [-b bytes] [-q depth] [-r]  (-r: spread over the disk; default sequential)',
  *run(args, io) {
    const k = io.kernel;
    const opt = new Map<string, string>();
    const rest: string[] = [];
    for (let i = 0; i < args.length; i++) {
      if (['-n', '-b', '-q'].includes(args[i]!)) opt.set(args[i]!, args[++i] ?? '');
      else if (args[i] === '-r') opt.set('-r', '');
      else rest.push(args[i]!);
    }
    const spread = opt.has('-r');
    const d = rest.length === 1 ? findDisk(k, rest[0]!) : undefined;
    const n = Number(opt.get('-n') ?? '1024');
    const bytes = parseSize(opt.get('-b') ?? '4k');
    const depth = Number(opt.get('-q') ?? '32');
    if (d === undefined || !(Number.isInteger(n) && n > 0) || bytes === undefined || bytes === 0 || bytes % d.sectorSize !== 0 || !(Number.isInteger(depth) && depth > 0)) {
      return fail(io, d === undefined && rest.length === 1 ? `diskbench: ${rest[0]}: no such disk` : `usage: ${this.summary.split(': ')[1]}`);
    }
    const per = bytes / d.sectorSize;
    const slots = Math.floor(d.sectors / per);
    if (slots === 0) return fail(io, `diskbench: ${d.name} is smaller than ${bytes} bytes`);
    const t0 = k.v.now;
    // One buffer for every batch, as a benchmark reading with read(2) would.
    const buffer = new Uint8Array(Math.min(depth, n) * bytes);
    const lbas: number[] = [];
    try {
      for (let done = 0; done < n; ) {
        const batch = Math.min(d.readv !== undefined ? depth : 1, n - done);
        if (lbas.length !== batch) lbas.length = batch;
        for (let i = 0; i < batch; i++) lbas[i] = (((done + i) * (spread ? 7919 : 1)) % slots) * per;
        if (d.readv !== undefined) yield* d.readv(k.bsp, lbas, per, batch * bytes === buffer.length ? buffer : buffer.subarray(0, batch * bytes));
        else yield* d.read(k.bsp, lbas[0]!, per);
        done += batch;
      }
    } catch (error) {
      if (error instanceof DiskIoError) return fail(io, `diskbench: ${error.message}`);
      throw error;
    }
    const secs = (k.v.now - t0) / 1e9;
    io.print(`diskbench: ${d.name}: ${n} ${spread ? 'spread' : 'sequential'} reads of ${bytes} bytes, queue depth ${d.readv !== undefined ? depth : 1}: ${secs.toFixed(6)} s, ${Math.round(n / secs)} IOPS, ${((n * bytes) / secs / 1e6).toFixed(1)} MB/s\n`);
    return 0;
  },
};

export const DISK_COMMANDS: readonly ShellCommand[] = [diskinfo, dd, diskcheck, diskbench];
