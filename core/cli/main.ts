/** The `xeno` command line: `runCli(argv, { catalog })` runs one command and returns its exit code. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { CORE_API_VERSION, manifestProblems, type PluginCommand, type PluginManifest } from '../api/plugin.js';
import type { PluginCatalog } from '../plugin-host/catalog.js';
import { XenoError } from '../api/errors.js';
import { formatLogRecord, type LogLevel } from '../api/log.js';
import { parseDuration } from '../config/index.js';
import { PluginLoadError, buildBundle } from '../plugin-host/index.js';
import { DefinitionErrors, bootMachine, loadMachine, type CliEnv } from './machine.js';
import { renderHostInfo } from './commands/info.js';
import { catalogRows, renderPluginRows } from './commands/plugins.js';
import { checkConfigFile, hostJsonSchema } from './commands/config.js';
import { renderRunReport, runHost } from './commands/run.js';
import { XL_COMMANDS, registerXlCommands, withHost } from './commands/xl.js';
import { runUp } from './commands/up.js';
import { findRunDir } from './control/client.js';
import { attachConsole } from './console-client.js';
import { isScenarioFile, runScenario } from './scenario/run.js';
import { renderScenarioMarkdown, writeScenarioReport } from './scenario/report.js';

export type { CliEnv } from './machine.js';

/** Ends a command with an exit code without a stack trace. */
class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** The core's own subcommands; any other first word may be a plugin's. */
const CORE_COMMANDS = new Set(['info', 'plugins', 'config', 'build', 'run', ...XL_COMMANDS]);

/** Every command of every plugin of the catalog, with its plugin's name (a plugin that fails to load contributes none). */
export async function pluginCommands(catalog: PluginCatalog): Promise<{ plugin: string; command: PluginCommand }[]> {
  const found: { plugin: string; command: PluginCommand }[] = [];
  for (const name of catalog.names()) {
    let manifest: unknown;
    try {
      manifest = await catalog.load(name);
    } catch {
      continue;
    }
    if (manifestProblems(manifest).length > 0) continue;
    for (const command of (manifest as PluginManifest).commands ?? []) {
      if (!CORE_COMMANDS.has(command.name) && !found.some((f) => f.command.name === command.name)) found.push({ plugin: name, command });
    }
  }
  return found;
}

/** `xeno console` on this process's terminal. */
async function attachToTerminal(socketPath: string): Promise<void> {
  await attachConsole({ socketPath, stdin: process.stdin, stdout: process.stdout });
  process.stdin.pause();
}

/** Aborts on SIGINT/SIGTERM while `run` runs; the handlers go when it ends. */
async function untilSignal<T>(given: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (given !== undefined) return run(given);
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await run(controller.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/**
 * Runs the `xeno` command line. Never throws: errors are printed and turned into an exit code.
 * `env.signal` ends long-running plugin commands (default: SIGINT/SIGTERM).
 */
export async function runCli(argv: readonly string[], env: CliEnv & { signal?: AbortSignal; attachConsole?: (socketPath: string) => Promise<void> }): Promise<number> {
  const out = env.stdout ?? ((t: string) => void process.stdout.write(t));
  const err = env.stderr ?? ((t: string) => void process.stderr.write(t));
  const cwd = env.cwd ?? process.cwd();
  const program = new Command('xeno')
    .description('xenoserver: a Xen-like virtualization platform on a simulated, deterministic x86-64 host')
    .version(CORE_API_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: err })
    .showHelpAfterError();

  program
    .command('info')
    .description('host facts, in the layout of `xl info`')
    .argument('[machine]', 'machine definition (default: the running host if there is one, else a cosmiconfig file here, else config/machines/default.yaml)')
    .option('--run-dir <dir>', "a running host's run directory")
    .action(async (machine: string | undefined, opts: { runDir?: string }) => {
      if (machine === undefined && findRunDir(opts.runDir, cwd) !== undefined) {
        out((await withHost(opts.runDir, cwd, (c) => c.call<{ text: string }>('info'))).text);
        return;
      }
      const { host: def } = await loadMachine(machine, cwd);
      const host = await bootMachine(def, env);
      try {
        host.settleBoot();
        out(renderHostInfo(host));
      } finally {
        await host.shutdown();
      }
    });

  program
    .command('plugins')
    .description("every plugin of this build: kind, version, status; with a machine, that machine's plugins as they started")
    .argument('[machine]', 'machine definition to start the plugins of')
    .action(async (machine?: string) => {
      if (machine === undefined) {
        out(renderPluginRows(await catalogRows(env.catalog)));
        return;
      }
      const { host: def } = await loadMachine(machine, cwd);
      const host = await bootMachine(def, env);
      try {
        out(renderPluginRows(await host.plugins.describe()));
      } finally {
        await host.shutdown();
      }
    });

  const config = program.command('config').description('check configuration files and produce the editor schema');
  config
    .command('check')
    .description('validate a host definition (and the guests it names), or one guest file')
    .argument('<file>', 'a host definition (.yaml/.json) or a guest (.cfg, or --domain)')
    .option('--domain', 'treat the file as a guest definition even if it is YAML')
    .action(async (file: string, opts: { domain?: boolean }) => {
      const r = await checkConfigFile(file, { cwd, ...(opts.domain ? { asDomain: true } : {}) });
      (r.ok ? out : err)(r.text);
      if (!r.ok) throw new Exit(1);
    });
  config
    .command('schema')
    .description("the host definition's JSON Schema, each plugin's options included")
    .option('-o, --output <file>', 'write it to a file instead of standard output')
    .action(async (opts: { output?: string }) => {
      const text = `${JSON.stringify(await hostJsonSchema(env.catalog), null, 2)}\n`;
      if (opts.output) writeFileSync(resolve(cwd, opts.output), text);
      else out(text);
    });

  program
    .command('build')
    .description('bundle a build profile (config/builds/<profile>.yaml): the core and only the plugins it names')
    .argument('<profile>', 'profile name, e.g. minimal')
    .option('-o, --out-dir <dir>', 'output folder (the bundle goes in <dir>/<profile>/)', 'build')
    .action(async (profile: string, opts: { outDir: string }) => {
      const built = await buildBundle(profile, { outDir: resolve(cwd, opts.outDir) });
      out(`built ${built.outFile}\n  features: ${built.info.features.join(' ')}\n  plugins: ${built.info.plugins.map((p) => `${p.name}@${p.version}`).join(' ') || 'none'}\n`);
    });

  program
    .command('run')
    .description('boot a machine and run it as fast as possible for its run.duration, or carry out a scenario’s timeline; report')
    .argument('[machine]', 'machine definition or scenario (a YAML file with a timeline); default: a cosmiconfig file here, else config/machines/default.yaml')
    .option('--seed <n>', 'override the definition seed', (v) => parseIntStrict(v, '--seed'))
    .option('--duration <time>', 'simulated time to run, e.g. 500ms, 2s (overrides run.duration)')
    .option('--realtime', 'pace virtual time to the wall clock (the default when the definition says pacing: realtime)')
    .option('--speed <factor>', 'with --realtime: virtual seconds per wall second', (v) => parsePositive(v, '--speed'))
    .option('--json', 'print the report as JSON')
    .addOption(new Option('--log <level>', 'print log records at this level and above').choices(['debug', 'info', 'warn', 'error']))
    .action(async (machine: string | undefined, opts: { seed?: number; duration?: string; realtime?: boolean; speed?: number; json?: boolean; log?: LogLevel }) => {
      if (machine !== undefined && isScenarioFile(resolve(cwd, machine))) {
        const report = await runScenario(machine, { ...env, cwd }, opts.seed !== undefined ? { seed: opts.seed } : {});
        const files = writeScenarioReport(report, report.reportDir);
        out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderScenarioMarkdown(report)}\nreport: ${files.json}, ${files.markdown}\n`);
        if (!report.ok) throw new Exit(1);
        return;
      }
      const { host: def, warnings } = await loadMachine(machine, cwd);
      for (const w of warnings) err(`warning: ${w.message}\n`);
      let durationNs = def.run.durationNs ?? 1e9;
      if (opts.duration !== undefined) {
        const d = parseDuration(opts.duration);
        if ('error' in d) throw new XenoError('usage', `--duration: ${d.error}`);
        durationNs = d.ns;
      }
      const host = await bootMachine(def, env, {
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
        ...(opts.log ? { logSink: (r) => err(`${formatLogRecord(r)}\n`), logLevel: opts.log } : { logSink: (r) => r.level === 'error' && err(`${formatLogRecord(r)}\n`) }),
      });
      try {
        const realtime = opts.realtime ?? def.pacing === 'realtime';
        const report = await runHost(host, durationNs, { realtime, ...(opts.speed !== undefined ? { speed: opts.speed } : {}) });
        out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderRunReport(report, host));
      } finally {
        await host.shutdown();
      }
    });

  program
    .command('up')
    .description('boot a host and keep it running, paced to the wall clock, until Ctrl-C or `xeno shutdown --host`')
    .argument('[machine]', 'machine definition (default: a cosmiconfig file here, else config/machines/default.yaml)')
    .option('--run-dir <dir>', 'where the sockets go (default ./run/<host name>)')
    .option('--speed <factor>', 'virtual seconds per wall second', (v) => parsePositive(v, '--speed'))
    .addOption(new Option('--log <level>', 'print log records at this level and above (default warn)').choices(['debug', 'info', 'warn', 'error']))
    .action(async (machine: string | undefined, opts: { runDir?: string; speed?: number; log?: LogLevel }) => {
      await untilSignal(env.signal, (signal) =>
        runUp(
          { ...(machine !== undefined ? { machine } : {}), ...(opts.runDir !== undefined ? { runDir: resolve(cwd, opts.runDir) } : {}), ...(opts.speed !== undefined ? { speed: opts.speed } : {}), ...(opts.log ? { log: opts.log } : {}) },
          { ...env, cwd, signal, out, err },
        ),
      );
    });

  registerXlCommands(program, { cwd, out, err, attachConsole: env.attachConsole ?? attachToTerminal });

  // Plugin commands: manifests are loaded only when the first word is not a core command (or for help).
  const first = argv[0];
  if (first === undefined || !CORE_COMMANDS.has(first)) {
    for (const { plugin, command } of await pluginCommands(env.catalog)) {
      const sub = program.command(command.name).description(`${command.description} (plugin ${plugin})`);
      for (const o of command.options) sub.option(o.flags, o.description, o.defaultValue as string | boolean | undefined);
      sub.action(async (opts: Record<string, unknown>) => {
        const code = await untilSignal(env.signal, (signal) => command.run(opts, { stdout: out, stderr: err, cwd, signal }));
        if (code !== 0) throw new Exit(code);
      });
    }
  }

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    return reportError(error, err);
  }
}

function parseIntStrict(value: string, flag: string): number {
  if (!/^-?\d+$/.test(value)) throw new XenoError('usage', `${flag} expects an integer, got "${value}"`);
  return Number(value);
}

function parsePositive(value: string, flag: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new XenoError('usage', `${flag} expects a positive number, got "${value}"`);
  return n;
}

function reportError(error: unknown, err: (t: string) => void): number {
  if (error instanceof Exit) return error.code;
  if (error instanceof CommanderError) return error.exitCode;
  if (error instanceof DefinitionErrors) {
    for (const e of error.errors) err(`error: ${e.message}\n`);
    for (const w of error.warnings) err(`warning: ${w.message}\n`);
    return 1;
  }
  if (error instanceof PluginLoadError) {
    for (const p of error.problems) err(`error: ${p.message}\n`);
    return 1;
  }
  if (error instanceof XenoError) {
    err(`error: ${error.message}\n`);
    return 1;
  }
  err(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 70;
}
