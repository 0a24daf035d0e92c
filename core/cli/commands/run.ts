/** `xeno run`: boot a machine, run it as fast as possible for its duration, and report what happened. */
import type { Host } from '../../host/host.js';
import { systemHostClock } from '../../engine/pacer.js';
import { formatDomainList } from '../format.js';

/** What a run produced: enough to compare two runs and to see where the time went. */
export interface RunReport {
  host: string;
  definition: string;
  seed: number;
  simulatedNs: number;
  wallMs: number;
  events: number;
  traceHash: string;
  counters: Record<string, number>;
  domains: { domid: number; name: string; state: string; vcpus: number; memMiB: number; cpuMs: number }[];
  plugins: { name: string; status: string; error?: string }[];
  memory: { totalFrames: number; freeFrames: number; backedFrames: number };
}

/**
 * Runs `host` for `durationNs` — as fast as possible, or paced to the wall clock (× `speed`) — and
 * collects the report. The wall clock is read only to report speed; it never changes what happens.
 */
export async function runHost(host: Host, durationNs: number, pacing: { realtime?: boolean; speed?: number } = {}): Promise<RunReport> {
  const t0 = systemHostClock.nowNs();
  if (pacing.realtime) await host.runRealtime(durationNs, pacing.speed !== undefined ? { speed: pacing.speed } : {});
  else host.runFor(durationNs);
  const wallMs = (systemHostClock.nowNs() - t0) / 1e6;
  return {
    host: host.definition.name,
    definition: host.definition.file,
    seed: host.engine.rng.seed,
    simulatedNs: host.engine.now,
    wallMs,
    events: host.engine.eventCount,
    traceHash: host.engine.trace.hash,
    counters: host.engine.trace.counters(),
    domains: host.domains.list().map((d) => ({
      domid: d.domid,
      name: d.name,
      state: d.state,
      vcpus: d.vcpus.length,
      memMiB: (d.totPages * 4096) / 2 ** 20,
      cpuMs: d.vcpus.reduce((s, v) => s + v.runstateInfo().time.running, 0) / 1e6,
    })),
    plugins: host.plugins.statuses().filter((p) => p.status !== 'available' && p.status !== 'not-in-build').map((p) => ({ name: p.name, status: p.status, ...(p.error ? { error: p.error } : {}) })),
    memory: { totalFrames: host.memory.totalFrames, freeFrames: host.memory.freeFrames, backedFrames: host.memory.backedFrames },
  };
}

export function renderRunReport(report: RunReport, host: Host): string {
  const secs = report.simulatedNs / 1e9;
  const counters = Object.entries(report.counters).map(([k, v]) => `${k} ${v}`).join(', ');
  const failed = report.plugins.filter((p) => p.status === 'failed' || p.status === 'skipped');
  return [
    `host ${report.host} (${report.definition}), seed ${report.seed}`,
    `simulated ${secs.toFixed(6)} s in ${(report.wallMs / 1000).toFixed(3)} s of wall time (${(secs / (report.wallMs / 1000)).toFixed(2)}× real time), ${report.events} events`,
    `trace ${report.traceHash}: ${counters || 'no records'}`,
    `plugins: ${report.plugins.map((p) => `${p.name} ${p.status}`).join(', ') || 'none'}`,
    ...failed.map((p) => `  ${p.name}: ${p.error ?? ''}`),
    `memory: ${report.memory.totalFrames - report.memory.freeFrames} of ${report.memory.totalFrames} frames allocated, ${report.memory.backedFrames} backed`,
    '',
    formatDomainList(host.domains.list()),
  ].join('\n');
}
