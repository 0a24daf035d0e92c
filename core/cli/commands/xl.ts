/**
 * xl's commands against a running host (`xeno up`): each finds the host's run directory, sends its
 * request over the control socket and prints the answer in xl's format. Names, options and outputs
 * follow xl where xl has them.
 */
import type { Command } from 'commander';
import { XenoError } from '../../api/errors.js';
import { ControlClient, controlSocketOf, findRunDir } from '../control/client.js';
import {
  renderXentopFrame,
  renderXlDmesg,
  renderXlDomid,
  renderXlDomname,
  renderXlBlockList,
  renderXlList,
  renderXlNetworkList,
  type XlBlockRow,
  type XlNicRow,
  renderXlListLong,
  renderXlSchedCredit,
  renderXlUptime,
  renderXlVcpuList,
  type XentopSample,
  type XlDmesgSnapshot,
  type XlDomidSnapshot,
  type XlDomnameSnapshot,
  type XlListLongSnapshot,
  type XlListSnapshot,
  type XlSchedCreditSnapshot,
  type XlUptimeSnapshot,
  type XlVcpuListSnapshot,
} from '../views/index.js';

/** What the commands need from the CLI. */
export interface XlEnv {
  cwd: string;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Attaches to a console socket (interactive); resolves when the user detaches or the domain goes. */
  attachConsole?: (socketPath: string) => Promise<void>;
}

/** xl's memory sizes: a number with an optional b/k/m/g/t suffix; a bare number is MiB. Returns KiB. */
export function parseMemKiB(text: string): number {
  const m = /^(\d+)([bkmgtBKMGT]?)$/.exec(text.trim());
  if (!m) throw new XenoError('usage', `invalid memory size: ${text}`);
  const n = Number(m[1]);
  switch (m[2]!.toLowerCase()) {
    case 'b':
      return Math.floor(n / 1024);
    case 'k':
      return n;
    case '':
    case 'm':
      return n * 1024;
    case 'g':
      return n * 1024 * 1024;
    default:
      return n * 1024 * 1024 * 1024;
  }
}

/** Runs `fn` with a client of the host found from `--run-dir`, $XENO_RUN_DIR or ./run/. */
export async function withHost<T>(runDir: string | undefined, cwd: string, fn: (client: ControlClient) => Promise<T>): Promise<T> {
  const dir = findRunDir(runDir, cwd);
  if (dir === undefined) throw new XenoError('usage', 'no running host found (start one with `xeno up`, or name its run directory with --run-dir or XENO_RUN_DIR)');
  const client = await ControlClient.connect(controlSocketOf(dir));
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

type Opts = { runDir?: string };
const RUN_DIR_FLAGS = '--run-dir <dir>';
const RUN_DIR_HELP = "the host's run directory (default: $XENO_RUN_DIR, else the only host under ./run/)";

/** Polls until `domain` is gone (xl's -w), or all guests are (`-a -w`). */
async function waitGone(client: ControlClient, domids: readonly number[]): Promise<void> {
  for (;;) {
    const alive = await client.call<{ domid: number }[]>('domains');
    if (!alive.some((d) => domids.includes(d.domid))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Adds xl's commands to the program. */
export function registerXlCommands(program: Command, env: XlEnv): void {
  const { cwd, out } = env;
  const simple = (name: string, description: string, method: string, build: (args: string[]) => Record<string, unknown>, args: string[]): void => {
    const cmd = program.command(name).description(description);
    for (const a of args) cmd.argument(a);
    cmd.option(RUN_DIR_FLAGS, RUN_DIR_HELP).action(async (...received: unknown[]) => {
      const positional = received.slice(0, args.length) as string[];
      const opts = received[args.length] as Opts;
      await withHost(opts.runDir, cwd, (c) => c.call(method, build(positional)));
    });
  };

  program
    .command('list')
    .alias('li')
    .description('the domains of the running host, in `xl list` columns')
    .argument('[domains...]', 'only these domains (names or ids)')
    .option('-l, --long', 'the domains’ configuration as JSON')
    .option(RUN_DIR_FLAGS, RUN_DIR_HELP)
    .action(async (domains: string[], opts: Opts & { long?: boolean }) => {
      await withHost(opts.runDir, cwd, async (c) => {
        if (opts.long) out(renderXlListLong(await c.call<XlListLongSnapshot>('list-long', { domains })));
        else out(renderXlList(await c.call<XlListSnapshot>('list', { domains })));
      });
    });

  program
    .command('create')
    .description('create a domain from an xl.cfg (or YAML) file; key=value arguments override the file')
    .argument('<file>', 'the guest configuration')
    .argument('[overrides...]', 'key=value lines appended to the file, as xl takes them')
    .option('-p, --paused', 'leave the domain paused after it is created')
    .option('-c, --console', 'attach to its console once created')
    .option(RUN_DIR_FLAGS, RUN_DIR_HELP)
    .action(async (file: string, overrides: string[], opts: Opts & { paused?: boolean; console?: boolean }) => {
      await withHost(opts.runDir, cwd, async (c) => {
        env.err(`Parsing config from ${file}\n`);
        const r = await c.call<{ domid: number; name: string; warnings: string[] }>('create', { file, cwd, overrides, paused: opts.paused === true });
        for (const w of r.warnings) env.err(`warning: ${w}\n`);
        if (opts.console && env.attachConsole) {
          const where = await c.call<{ path: string }>('console', { domain: String(r.domid) });
          await env.attachConsole(where.path);
        }
      });
    });

  simple('destroy', 'destroy a domain at once (xl destroy)', 'destroy', ([domain]) => ({ domain }), ['<domain>']);
  simple('pause', 'pause a domain', 'pause', ([domain]) => ({ domain }), ['<domain>']);
  simple('unpause', 'unpause a domain', 'unpause', ([domain]) => ({ domain }), ['<domain>']);
  simple('rename', 'rename a domain', 'rename', ([domain, name]) => ({ domain, name }), ['<domain>', '<new-name>']);
  simple('dump-core', 'write a domain’s memory and vCPU state to a xen dump-core (ELF) file, as xl dump-core', 'dump-core', ([domain, file]) => ({ domain, file, cwd }), ['<domain>', '<filename>']);
  for (const kind of ['block', 'network'] as const) {
    program
      .command(`${kind}-attach`)
      .description(kind === 'block' ? 'attach a disk to a running domain (the xl disk spec; parts may be given as separate arguments)' : 'attach a NIC to a running domain (vif spec settings: mac=, bridge=, ...)')
      .argument('<domain>', 'name or id')
      .argument(kind === 'block' ? '<disk-spec...>' : '[vif-spec...]', kind === 'block' ? 'e.g. /images/d.qcow2,qcow2,xvdb,rw' : 'e.g. bridge=xenbr0 mac=00:16:3e:00:00:01')
      .option(RUN_DIR_FLAGS, RUN_DIR_HELP)
      .action(async (domain: string, parts: string[], opts: Opts) => {
        await withHost(opts.runDir, cwd, (c) => c.call(`${kind}-attach`, { domain, spec: parts.join(','), cwd }));
      });
    simple(`${kind}-detach`, `detach a ${kind === 'block' ? 'disk (by vdev or number)' : 'NIC (by devid or MAC)'} from a running domain`, `${kind}-detach`, ([domain, dev]) => ({ domain, dev }), ['<domain>', kind === 'block' ? '<vdev>' : '<devid|mac>']);
    program
      .command(`${kind}-list`)
      .description(`the ${kind === 'block' ? 'virtual disks' : 'virtual NICs'} of domains, in xl's columns`)
      .argument('<domains...>', 'names or ids')
      .option(RUN_DIR_FLAGS, RUN_DIR_HELP)
      .action(async (domains: string[], opts: Opts) => {
        await withHost(opts.runDir, cwd, async (c) => {
          if (kind === 'block') out(renderXlBlockList(await c.call<XlBlockRow[]>('block-list', { domains })));
          else out(renderXlNetworkList(await c.call<XlNicRow[]>('network-list', { domains })));
        });
      });
  }
  simple('mem-set', 'set a domain’s balloon target (mem: size with b/k/m/g suffix; bare numbers are MiB)', 'mem-set', ([domain, mem]) => ({ domain, kib: parseMemKiB(mem!) }), ['<domain>', '<mem>']);
  simple('mem-max', 'set the most memory a domain may have', 'mem-max', ([domain, mem]) => ({ domain, kib: parseMemKiB(mem!) }), ['<domain>', '<mem>']);
  simple('vcpu-set', 'set how many vCPUs a domain has online', 'vcpu-set', ([domain, n]) => ({ domain, count: Number(n) }), ['<domain>', '<vcpus>']);
  simple('vcpu-pin', 'pin a vCPU (or all) to a set of pCPUs, e.g. 0-3,^1', 'vcpu-pin', ([domain, vcpu, cpus]) => ({ domain, vcpu: vcpu === 'all' ? 'all' : Number(vcpu), cpus }), ['<domain>', '<vcpu>', '<cpus>']);

  for (const [name, request] of [
    ['shutdown', 'poweroff'],
    ['reboot', 'reboot'],
  ] as const) {
    const cmd = program
      .command(name)
      .description(name === 'shutdown' ? 'ask a domain (or all: -a) to shut down through control/shutdown; --host stops the host' : 'ask a domain to reboot')
      .argument('[domain]', 'name or id')
      .option('-w, --wait', 'wait until the domain is gone')
      .option('-a, --all', 'every guest')
      .option('-F', 'a guest without PV control interface (HVM, no PV drivers) gets the ACPI power button (shutdown) or a reset (reboot)');
    if (name === 'shutdown') cmd.option('--host', 'stop the host itself, after shutting its guests down');
    cmd
      .option(RUN_DIR_FLAGS, RUN_DIR_HELP)
      .action(async (domain: string | undefined, opts: Opts & { wait?: boolean; all?: boolean; host?: boolean; F?: boolean }) => {
        await withHost(opts.runDir, cwd, async (c) => {
          if (opts.host === true && name === 'shutdown') {
            await c.call('host-shutdown');
            out('host shutting down\n');
            return;
          }
          let targets: { domid: number; name: string }[];
          if (opts.all) targets = (await c.call<{ domid: number; name: string }[]>('domains')).filter((d) => d.domid !== 0);
          else if (domain !== undefined) targets = [{ domid: -1, name: domain }];
          else throw new XenoError('usage', `${name}: name a domain, or -a for all`);
          await Promise.all(targets.map((t) => c.call('shutdown', { domain: t.domid >= 0 ? String(t.domid) : t.name, request, force: opts.F === true })));
          if (opts.wait) {
            const ids = await Promise.all(targets.map(async (t) => (t.domid >= 0 ? t.domid : (await c.call<XlDomidSnapshot>('domid', { domain: t.name }).catch(() => ({ domid: -1 }))).domid)));
            await waitGone(c, ids);
          }
        });
      });
  }

  program
    .command('console')
    .description('attach to a domain’s console (Ctrl-] detaches)')
    .argument('<domain>', 'name or id')
    .option(RUN_DIR_FLAGS, RUN_DIR_HELP)
    .action(async (domain: string, opts: Opts) => {
      const where = await withHost(opts.runDir, cwd, (c) => c.call<{ path: string }>('console', { domain }));
      if (!env.attachConsole) throw new XenoError('usage', 'console: no terminal to attach');
      await env.attachConsole(where.path);
    });

  program
    .command('domid')
    .description('the id of a domain')
    .argument('<name>')
    .option(RUN_DIR_FLAGS, RUN_DIR_HELP)
    .action(async (name: string, opts: Opts) => out(renderXlDomid(await withHost(opts.runDir, cwd, (c) => c.call<XlDomidSnapshot>('domid', { domain: name })))));
  program
    .command('domname')
    .description('the name of a domain')
    .argument('<domid>')
    .option(RUN_DIR_FLAGS, RUN_DIR_HELP)
    .action(async (domid: string, opts: Opts) => out(renderXlDomname(await withHost(opts.runDir, cwd, (c) => c.call<XlDomnameSnapshot>('domname', { domid })))));

  program
    .command('vcpu-list')
    .description('vCPUs: where they run, their state, time and affinity')
    .argument('[domains...]')
    .option(RUN_DIR_FLAGS, RUN_DIR_HELP)
    .action(async (domains: string[], opts: Opts) => out(renderXlVcpuList(await withHost(opts.runDir, cwd, (c) => c.call<XlVcpuListSnapshot>('vcpu-list', { domains })))));
  program
    .command('uptime')
    .description('how long each domain has run')
    .argument('[domains...]')
    .option('-s, --short', 'time of day and uptime only')
    .option(RUN_DIR_FLAGS, RUN_DIR_HELP)
    .action(async (domains: string[], opts: Opts & { short?: boolean }) => out(renderXlUptime(await withHost(opts.runDir, cwd, (c) => c.call<XlUptimeSnapshot>('uptime', { domains })), { short: opts.short === true })));
  program
    .command('dmesg')
    .description('the hypervisor console ring')
    .option(RUN_DIR_FLAGS, RUN_DIR_HELP)
    .action(async (opts: Opts) => out(renderXlDmesg(await withHost(opts.runDir, cwd, (c) => c.call<XlDmesgSnapshot>('dmesg')))));
  program
    .command('sched-credit')
    .description('the credit scheduler’s parameters per domain')
    .option('-d, --domain <domain>', 'only this domain')
    .option(RUN_DIR_FLAGS, RUN_DIR_HELP)
    .action(async (opts: Opts & { domain?: string }) => out(renderXlSchedCredit(await withHost(opts.runDir, cwd, (c) => c.call<XlSchedCreditSnapshot>('sched-credit', opts.domain !== undefined ? { domain: opts.domain } : {})))));

  program
    .command('top')
    .description('xentop: per-domain CPU, memory, vCPUs, network and block counters')
    .option('-b, --batch', 'batch mode: print and exit after -i iterations')
    .option('-i, --iterations <n>', 'iterations in batch mode', '1')
    .option('-d, --delay <seconds>', 'seconds between updates', '1')
    .option(RUN_DIR_FLAGS, RUN_DIR_HELP)
    .action(async (opts: Opts & { batch?: boolean; iterations: string; delay: string }) => {
      const n = Number(opts.iterations);
      const delay = Number(opts.delay);
      if (!Number.isInteger(n) || n < 1) throw new XenoError('usage', `-i expects a positive integer, got ${opts.iterations}`);
      await withHost(opts.runDir, cwd, async (c) => {
        let prev: XentopSample | undefined;
        for (let i = 0; i < (opts.batch ? n : Infinity); i++) {
          const cur = await c.call<XentopSample>('top-sample');
          out(renderXentopFrame(cur, prev));
          prev = cur;
          if (i + 1 < n || !opts.batch) await new Promise((r) => setTimeout(r, delay * 1000));
        }
      });
    });
}

/** Names of the commands above, so plugin commands cannot take them. */
export const XL_COMMANDS = ['up', 'list', 'li', 'create', 'destroy', 'pause', 'unpause', 'rename', 'dump-core', 'block-attach', 'block-detach', 'block-list', 'network-attach', 'network-detach', 'network-list', 'mem-set', 'mem-max', 'vcpu-set', 'vcpu-pin', 'shutdown', 'reboot', 'console', 'domid', 'domname', 'vcpu-list', 'uptime', 'dmesg', 'sched-credit', 'top'];
