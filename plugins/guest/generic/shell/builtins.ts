/** The built-in commands: help, dmesg, uptime, echo, poweroff, reboot, and the system commands (sys_cmds.ts, mutexbench). */
import { kernReboot } from '../kern/kern_shutdown.js';
import { tsleep } from '../kern/kern_intr.js';
import type { CommandRegistry, ShellCommand } from './commands.js';
import { DISK_COMMANDS } from './disk_cmds.js';
import { mutexbench } from './mutexbench.js';
import { NET_COMMANDS } from './net_cmds.js';
import { SYS_COMMANDS } from './sys_cmds.js';

/** "1.503204 s" style uptime with the raw ns. */
export function formatSeconds(ns: number): string {
  return `${(ns / 1e9).toFixed(6)} s`;
}

export const BUILTINS: readonly ShellCommand[] = [
  {
    name: 'help',
    summary: 'list the commands',
    *run(_args, io) {
      const commands = io.kernel.commands.list();
      const width = Math.max(...commands.map((c) => c.name.length));
      for (const c of commands) io.print(`${c.name.padEnd(width)}  ${c.summary}\n`);
      return 0;
    },
  },
  {
    name: 'dmesg',
    summary: 'print the kernel message buffer',
    *run(_args, io) {
      io.print(io.kernel.msgbuf.contents());
      return 0;
    },
  },
  {
    name: 'uptime',
    summary: 'time since boot',
    *run(_args, io) {
      const ns = Math.floor(io.kernel.uptimeNs());
      io.print(`up ${formatSeconds(ns)} (${ns} ns)\n`);
      return 0;
    },
  },
  {
    name: 'sleep',
    summary: 'sleep N seconds (fractions allowed): the CPU idles on its clock hook\'s timer',
    *run(args, io) {
      const seconds = Number(args[0]);
      if (args.length !== 1 || !Number.isFinite(seconds) || seconds < 0) {
        io.print('usage: sleep seconds\n');
        return 1;
      }
      const k = io.kernel;
      yield* tsleep(k.bsp, () => false, k.v.now + seconds * 1e9);
      return 0;
    },
  },
  {
    name: 'echo',
    summary: 'print the arguments',
    *run(args, io) {
      io.print(`${args.join(' ')}\n`);
      return 0;
    },
  },
  {
    name: 'poweroff',
    summary: 'power the domain off',
    *run(_args, io) {
      yield* kernReboot(io.kernel, 'poweroff');
      return 1;
    },
  },
  {
    name: 'reboot',
    summary: 'reboot the domain',
    *run(_args, io) {
      yield* kernReboot(io.kernel, 'reboot');
      return 1;
    },
  },
];

export function registerBuiltins(registry: CommandRegistry): void {
  for (const c of [...BUILTINS, ...SYS_COMMANDS, ...DISK_COMMANDS, ...NET_COMMANDS, mutexbench]) registry.register(c);
}
