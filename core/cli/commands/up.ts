/**
 * `xeno up`: boots a host and keeps it running, paced to the wall clock, serving the control socket
 * until Ctrl-C or `xeno shutdown --host`; then asks every guest to power off, waits for them (a bounded
 * time), destroys what is left and shuts the host down.
 */
import { join } from 'node:path';
import type { Host } from '../../host/host.js';
import { formatLogRecord, type LogLevel } from '../../api/log.js';
import { systemHostClock } from '../../engine/pacer.js';
import { ControlServer } from '../control/server.js';
import { CONTROL_METHODS } from '../control/methods.js';
import { bootMachine, loadMachine, type CliEnv } from '../machine.js';

export interface UpOptions {
  machine?: string;
  runDir?: string;
  speed?: number;
  log?: LogLevel;
  /** Wall milliseconds guests get to power off when the host stops (default 5000). */
  shutdownGraceMs?: number;
}

/** Runs a host until `signal` aborts or a client asks it to stop. */
export async function runUp(options: UpOptions, env: CliEnv & { signal: AbortSignal; out: (t: string) => void; err: (t: string) => void }): Promise<void> {
  const cwd = env.cwd ?? process.cwd();
  const { host: def, warnings } = await loadMachine(options.machine, cwd);
  for (const w of warnings) env.err(`warning: ${w.message}\n`);
  const level = options.log ?? 'warn';
  const host = await bootMachine(def, env, {
    logSink: (r) => env.err(`${formatLogRecord(r)}\n`),
    logLevel: level,
    ...(options.runDir !== undefined ? { runDir: options.runDir } : {}),
  });
  let stopRequested: () => void = () => {};
  const stopping = new Promise<void>((resolve) => (stopRequested = resolve));
  const server = new ControlServer(host, join(host.runDir, 'control.sock'), { ...CONTROL_METHODS, 'host-shutdown': () => (stopRequested(), true) }, host.log.child('control'));
  try {
    await server.listen();
    const paced = host.runPaced(options.speed !== undefined ? { speed: options.speed } : {});
    env.out(`host ${def.name} is up: ${host.domains.size} domains, run dir ${host.runDir}\n`);
    const onAbort = (): void => stopRequested();
    env.signal.addEventListener('abort', onAbort, { once: true });
    if (env.signal.aborted) stopRequested();
    await stopping;
    env.signal.removeEventListener('abort', onAbort);
    env.out('shutting down guests...\n');
    await powerOffGuests(host, options.shutdownGraceMs ?? 5000);
    paced.stop();
  } finally {
    await server.close();
    await host.shutdown();
  }
  env.out(`host ${def.name} stopped\n`);
}

/** Asks every toolstack guest to power off and waits (wall time) until they are gone or the grace ends. */
async function powerOffGuests(host: Host, graceMs: number): Promise<void> {
  const toolstack = host.toolstack;
  if (toolstack === undefined) return;
  const guests = toolstack.list();
  if (guests.length === 0) return;
  await new Promise<void>((resolve) => {
    host.engine.external(() => {
      for (const g of guests) toolstack.shutdown(g.domid, 'poweroff');
    });
    // Wall time, outside the simulation: how long the process waits, not what happens in it.
    const deadline = systemHostClock.nowNs() + graceMs * 1e6;
    const check = (): void => {
      if (toolstack.list().length === 0 || systemHostClock.nowNs() >= deadline) resolve();
      else setTimeout(check, 20);
    };
    check();
  });
}
