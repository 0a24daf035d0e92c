/** System commands: devinfo, sysctl, ps, vmstat -i, shutdown, halt. */
import type { Device } from '../kern/bus.js';
import { kernReboot, type HowTo } from '../kern/kern_shutdown.js';
import type { ShellCommand } from './commands.js';

function tree(d: Device, verbose: boolean, depth: number, out: string[]): void {
  out.push(`${'  '.repeat(depth)}${d.nameunit}${verbose ? ` <${d.description}>` : ''}`);
  for (const c of d.children) tree(c, verbose, depth + 1, out);
}

const devinfo: ShellCommand = {
  name: 'devinfo',
  summary: 'print the device tree (-v: with descriptions)',
  *run(args, io) {
    const verbose = args.includes('-v');
    const bad = args.find((a) => a !== '-v');
    if (bad !== undefined) {
      io.print(`devinfo: unknown option ${bad}\nusage: devinfo [-v]\n`);
      return 2;
    }
    const out: string[] = [];
    const root = io.kernel.devices[0];
    if (root !== undefined) tree(root, verbose, 0, out);
    io.print(out.map((l) => `${l}\n`).join(''));
    return 0;
  },
};

const sysctl: ShellCommand = {
  name: 'sysctl',
  summary: 'get or set kernel state: sysctl [-a] [-d] name[=value] ...',
  *run(args, io) {
    const s = io.kernel.sysctl;
    const describe = args.includes('-d');
    const names = args.filter((a) => a !== '-a' && a !== '-d');
    if (names.length === 0 && !args.includes('-a')) {
      io.print('usage: sysctl [-a] [-d] name[=value] ...\n');
      return 2;
    }
    let status = 0;
    for (const arg of names.length === 0 ? [''] : names) {
      const eq = arg.indexOf('=');
      if (eq >= 0) {
        const name = arg.slice(0, eq);
        const oid = s.get(name);
        if (oid === undefined) {
          io.print(`sysctl: unknown oid '${name}'\n`);
          status = 1;
        } else if (oid.set === undefined) {
          io.print(`sysctl: oid '${name}' is read only\n`);
          status = 1;
        } else {
          const old = oid.get();
          try {
            oid.set(arg.slice(eq + 1));
            io.print(`${name}: ${old} -> ${oid.get()}\n`);
          } catch (error) {
            io.print(`sysctl: ${(error as Error).message}\n`);
            status = 1;
          }
        }
        continue;
      }
      const found = s.match(arg);
      if (found.length === 0) {
        io.print(`sysctl: unknown oid '${arg}'\n`);
        status = 1;
      }
      for (const o of found) io.print(`${o.name}: ${describe ? o.description : o.get()}\n`);
    }
    return status;
  },
};

const ps: ShellCommand = {
  name: 'ps',
  summary: 'list kernel threads per CPU',
  *run(_args, io) {
    const k = io.kernel;
    const rows: string[][] = [['TID', 'CPU', 'STAT', 'COMMAND']];
    for (const cpu of k.cpus) {
      if (cpu === undefined) continue;
      rows.push([String(cpu.id), String(cpu.id), cpu.online ? (cpu.curthread === undefined ? 'RL' : 'RQ') : 'W', `[idle: cpu${cpu.id}]`]);
      for (const h of cpu.intr) rows.push(['-', String(cpu.id), 'WL', `[intr: ${h.name}]`]);
    }
    for (const td of k.threads) rows.push([String(td.tid), String(td.cpu.id), td.state === 'Run' ? 'R' : td.state === 'RunQ' ? 'RQ' : `D ${td.wchan}`, td.name]);
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    io.print(rows.map((r) => `${r.map((c, i) => (i === r.length - 1 ? c : c.padStart(widths[i]!))).join(' ')}\n`).join(''));
    return 0;
  },
};

const vmstat: ShellCommand = {
  name: 'vmstat',
  summary: 'vmstat -i: interrupts per source',
  *run(args, io) {
    if (args[0] !== '-i') {
      io.print('usage: vmstat -i\n');
      return 2;
    }
    const k = io.kernel;
    const secs = Math.max(k.uptimeNs() / 1e9, 1e-9);
    io.print(`${'interrupt'.padEnd(40)} ${'total'.padStart(12)} ${'rate'.padStart(8)}\n`);
    let total = 0;
    for (const cpu of k.cpus) {
      for (const [source, { count: n }] of cpu?.intrCount ?? []) {
        // As vmstat -i without -a: sources that never interrupted are left out.
        if (n === 0) continue;
        total += n;
        io.print(`${source.padEnd(40)} ${String(n).padStart(12)} ${String(Math.round(n / secs)).padStart(8)}\n`);
      }
    }
    io.print(`${'Total'.padEnd(40)} ${String(total).padStart(12)} ${String(Math.round(total / secs)).padStart(8)}\n`);
    return 0;
  },
};

const HOWTO: Readonly<Record<string, HowTo>> = { '-p': 'poweroff', '-r': 'reboot', '-h': 'halt' };

const shutdown: ShellCommand = {
  name: 'shutdown',
  summary: 'shutdown -p|-r|-h now: power off, reboot or halt',
  *run(args, io) {
    const howto = HOWTO[args[0] ?? ''];
    if (howto === undefined || args[1] !== 'now' || args.length !== 2) {
      io.print('usage: shutdown -p | -r | -h now\n');
      return 2;
    }
    yield* kernReboot(io.kernel, howto);
    return 1;
  },
};

const halt: ShellCommand = {
  name: 'halt',
  summary: 'halt the domain',
  *run(_args, io) {
    yield* kernReboot(io.kernel, 'halt');
    return 1;
  },
};

export const SYS_COMMANDS: readonly ShellCommand[] = [devinfo, sysctl, ps, vmstat, shutdown, halt];
