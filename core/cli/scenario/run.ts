/**
 * `xeno run <scenario>`: boots the scenario's machine, carries out its timeline as fast as possible
 * (each step at the virtual time the previous one ended), and reports what happened. Nothing here reads
 * the wall clock except to report how long steps took.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../../api/errors.js';
import { Consoles } from '../../api/console.js';
import type { Dom0Job } from '../../api/dom0.js';
import type { DomainState } from '../../api/domain.js';
import type { LogRecord } from '../../api/log.js';
import type { Toolstack } from '../../api/toolstack.js';
import { loadDomainFile } from '../../config/load.js';
import { parseDomainXl } from '../../config/domain.js';
import { parseDuration } from '../../config/units.js';
import { parseYamlSource } from '../../config/yaml-source.js';
import { validate } from '../../config/validate.js';
import { systemHostClock } from '../../engine/pacer.js';
import type { Host } from '../../host/host.js';
import { DefinitionErrors, bootMachine, loadMachine, type CliEnv } from '../machine.js';
import { parseMemKiB } from '../commands/xl.js';
import { domidOf } from '../control/methods.js';
import { ScenarioFile, type ScenarioStep } from './schema.js';

/** How one step went. */
export interface StepReport {
  index: number;
  action: string;
  /** What the step named (a domain, a file, a duration). */
  target: string;
  line?: number;
  status: 'ok' | 'failed' | 'skipped';
  startNs: number;
  endNs: number;
  wallMs: number;
  error?: string;
}

export interface ScenarioReport {
  scenario: string;
  file: string;
  machine: string;
  /** Where the host's sockets were, and where the report goes unless the scenario names a folder. */
  runDir: string;
  /** The scenario's `report.dir`, resolved. */
  reportDir: string;
  seed: number;
  ok: boolean;
  simulatedNs: number;
  wallMs: number;
  events: number;
  traceHash: string;
  steps: StepReport[];
  domains: { domid: number; name: string; state: string; memMiB: number; cpuMs: number }[];
  /** Warnings and errors the host logged. */
  problems: string[];
  /** The last lines of each domain's console. */
  consoles: Record<string, string>;
}

/** Virtual time a step may take when it names no timeout. */
const DEFAULT_TIMEOUT_NS = 30e9;
/** Slice of virtual time between checks of a step's condition. */
const SLICE_NS = 1e6;

/** True when the YAML file is a scenario (it has a `timeline`), not a machine definition. */
export function isScenarioFile(file: string): boolean {
  if (!/\.ya?ml$|\.json$/i.test(file)) return false;
  try {
    return /^timeline\s*:/m.test(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

/** Loads and checks a scenario file; throws DefinitionErrors listing every problem. */
export function loadScenario(file: string, shown = file): { scenario: ScenarioFile; lineOf: (path: (string | number)[]) => number | undefined } {
  const src = parseYamlSource(readFileSync(file, 'utf8'), shown);
  if (src.errors.length > 0) throw new DefinitionErrors(src.errors, []);
  const errors = validate(ScenarioFile, src.value, { file: shown, lineOf: src.lineOf });
  if (errors.length > 0) throw new DefinitionErrors(errors, []);
  return { scenario: src.value as ScenarioFile, lineOf: (p) => src.lineOf(p) };
}

export async function runScenario(file: string, env: CliEnv, options: { seed?: number } = {}): Promise<ScenarioReport> {
  const cwd = env.cwd ?? process.cwd();
  const path = resolve(cwd, file);
  const { scenario, lineOf } = loadScenario(path, file);
  const { host: def } = await loadMachine(resolve(dirname(path), scenario.machine), cwd);
  const problems: string[] = [];
  const seed = options.seed ?? scenario.seed;
  const host = await bootMachine(def, env, {
    ...(seed !== undefined ? { seed } : {}),
    logLevel: 'warn',
    logSink: (r: LogRecord) => problems.push(`${(r.time / 1e9).toFixed(6)} ${r.level} ${r.source}: ${r.message}`),
  });
  const wall0 = systemHostClock.nowNs();
  const steps: StepReport[] = [];
  try {
    for (const job of host.bootJobs) runUntil(host, () => job.state === 'done' || job.state === 'failed', DEFAULT_TIMEOUT_NS);
    let failed = false;
    scenario.timeline.forEach((step, index) => {
      const [action, arg] = Object.entries(step).find(([k]) => k !== 'timeout')!;
      const line = lineOf(['timeline', index]);
      const report: StepReport = { index, action, target: describe(arg), ...(line !== undefined ? { line } : {}), status: 'skipped', startNs: host.engine.now, endNs: host.engine.now, wallMs: 0 };
      steps.push(report);
      if (failed) return;
      const t0 = systemHostClock.nowNs();
      try {
        const timeout = step.timeout !== undefined ? durationNs(step.timeout) : DEFAULT_TIMEOUT_NS;
        execute(host, step, dirname(path), timeout);
        report.status = 'ok';
      } catch (error) {
        report.status = 'failed';
        report.error = (error as Error).message;
        failed = true;
      }
      report.endNs = host.engine.now;
      report.wallMs = (systemHostClock.nowNs() - t0) / 1e6;
    });
    return {
      scenario: scenario.scenario,
      file,
      machine: def.file,
      runDir: host.runDir,
      reportDir: scenario.report ? resolve(cwd, scenario.report.dir) : host.runDir,
      seed: host.engine.rng.seed,
      ok: !failed,
      simulatedNs: host.engine.now,
      wallMs: (systemHostClock.nowNs() - wall0) / 1e6,
      events: host.engine.eventCount,
      traceHash: host.engine.trace.hash,
      steps,
      domains: host.domains.list().map((d) => ({ domid: d.domid, name: d.name, state: d.state, memMiB: (d.totPages * 4096) / 2 ** 20, cpuMs: d.vcpus.reduce((s, v) => s + v.runstateInfo().time.running, 0) / 1e6 })),
      problems,
      consoles: consoleTails(host),
    };
  } finally {
    await host.shutdown();
  }
}

function describe(arg: unknown): string {
  if (typeof arg === 'string') return arg;
  const o = arg as Record<string, unknown>;
  return String(o.domain ?? o.file ?? JSON.stringify(arg));
}

function durationNs(text: string): number {
  const d = parseDuration(text);
  if ('error' in d) throw new ConfigError(d.error);
  return d.ns;
}

/** Runs the host in slices until `done()` or `timeoutNs` of virtual time passed (then throws). */
function runUntil(host: Host, done: () => boolean, timeoutNs: number, what = 'the step'): void {
  const end = host.engine.now + timeoutNs;
  while (!done()) {
    if (host.engine.now >= end) throw new Error(`${what} did not finish within ${timeoutNs / 1e9} s of virtual time`);
    host.engine.runFor(Math.min(SLICE_NS, end - host.engine.now));
  }
}

function awaitJob<T>(host: Host, job: Dom0Job<T>, timeoutNs: number): T {
  runUntil(host, () => job.state === 'done' || job.state === 'failed', timeoutNs, job.name);
  if (job.error) throw job.error;
  return job.result as T;
}

function toolstackOf(host: Host): Toolstack {
  const t = host.toolstack;
  if (!t) throw new Error('this machine runs no toolstack plugin');
  return t;
}

function consolesOf(host: Host) {
  const c = host.plugins.resolveAll(Consoles)[0];
  if (!c) throw new Error('this machine runs no console daemon (enable xenconsoled)');
  return c;
}

function execute(host: Host, step: ScenarioStep, base: string, timeoutNs: number): void {
  if ('create' in step) {
    const spec = typeof step.create === 'string' ? { file: step.create } : step.create;
    const file = resolve(base, spec.file);
    const r = spec.overrides?.length ? parseDomainXl(`${readFileSync(file, 'utf8')}\n${spec.overrides.join('\n')}\n`, file) : loadDomainFile(file);
    if (!r.domain) throw new Error(r.errors.map((e) => e.message).join('; '));
    awaitJob(host, toolstackOf(host).create(r.domain, { paused: spec.paused === true }), timeoutNs);
  } else if ('wait' in step) {
    const w = step.wait;
    if (w.console !== undefined) {
      const consoles = consolesOf(host);
      const domid = domidOf(host, w.domain);
      // Output the domain printed before this step counts: a boot prompt may come while it is being built.
      runUntil(host, () => consoles.log(domid).includes(w.console!), timeoutNs, `waiting for "${w.console}" on ${w.domain}'s console`);
    }
    if (w.state !== undefined) {
      const want = w.state;
      const current = (): DomainState | 'gone' => {
        const d = host.domains.list().find((x) => x.name === w.domain && x.state !== 'dead');
        return d ? d.state : 'gone';
      };
      runUntil(host, () => current() === want, timeoutNs, `waiting for ${w.domain} to be ${want}`);
    }
  } else if ('run' in step) {
    host.runFor(durationNs(step.run));
  } else if ('input' in step) {
    consolesOf(host).input(domidOf(host, step.input.domain), step.input.text);
  } else if ('shutdown' in step) {
    const s = typeof step.shutdown === 'string' ? { domain: step.shutdown } : step.shutdown;
    const domid = domidOf(host, s.domain);
    awaitJob(host, toolstackOf(host).shutdown(domid, (s.request ?? 'poweroff') as 'poweroff', { force: s.force === true }), timeoutNs);
    if (s.wait) runUntil(host, () => host.domains.get(domid) === undefined, timeoutNs, `waiting for ${s.domain} to go`);
  } else if ('reboot' in step) {
    const r = typeof step.reboot === 'string' ? { domain: step.reboot } : step.reboot;
    const old = domidOf(host, r.domain);
    awaitJob(host, toolstackOf(host).shutdown(old, 'reboot', { force: r.force === true }), timeoutNs);
    if (r.wait) {
      const rebuilt = (): boolean => host.domains.list().some((d) => d.name === r.domain && d.domid !== old && d.state !== 'dead') && host.domains.get(old) === undefined;
      runUntil(host, rebuilt, timeoutNs, `waiting for ${r.domain} to come back`);
    }
  } else if ('destroy' in step) {
    awaitJob(host, toolstackOf(host).destroy(domidOf(host, step.destroy)), timeoutNs);
  } else if ('pause' in step) {
    awaitJob(host, toolstackOf(host).pause(domidOf(host, step.pause)), timeoutNs);
  } else if ('unpause' in step) {
    awaitJob(host, toolstackOf(host).unpause(domidOf(host, step.unpause)), timeoutNs);
  } else if ('mem-set' in step) {
    awaitJob(host, toolstackOf(host).memSet(domidOf(host, step['mem-set'].domain), parseMemKiB(step['mem-set'].memory)), timeoutNs);
  } else if ('vcpu-set' in step) {
    awaitJob(host, toolstackOf(host).vcpuSet(domidOf(host, step['vcpu-set'].domain), step['vcpu-set'].vcpus), timeoutNs);
  } else if ('rename' in step) {
    awaitJob(host, toolstackOf(host).rename(domidOf(host, step.rename.domain), step.rename.name), timeoutNs);
  }
}

function consoleTails(host: Host): Record<string, string> {
  const consoles = host.plugins.resolveAll(Consoles)[0];
  if (!consoles) return {};
  const out: Record<string, string> = {};
  for (const domid of consoles.attached()) {
    const name = host.domains.get(domid)?.name ?? String(domid);
    out[name] = consoles.log(domid).split('\n').slice(-20).join('\n');
  }
  return out;
}
