/** A scenario's report as files: report.json (everything) and report.md (for people). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScenarioReport } from './run.js';

const secs = (ns: number): string => (ns / 1e9).toFixed(6);

export function renderScenarioMarkdown(r: ScenarioReport): string {
  const lines = [
    `# Scenario ${r.scenario}: ${r.ok ? 'passed' : 'FAILED'}`,
    '',
    `Machine \`${r.machine}\`, seed ${r.seed}. Simulated ${secs(r.simulatedNs)} s in ${(r.wallMs / 1000).toFixed(3)} s of wall time; ${r.events} events; trace \`${r.traceHash}\`.`,
    '',
    '## Timeline',
    '',
    '| # | action | target | status | start (s) | end (s) | wall (ms) | error |',
    '|---|---|---|---|---|---|---|---|',
    ...r.steps.map((s) => `| ${s.index + 1} | ${s.action} | ${s.target.replace(/\|/g, '\\|')} | ${s.status} | ${secs(s.startNs)} | ${secs(s.endNs)} | ${s.wallMs.toFixed(1)} | ${(s.error ?? '').replace(/\|/g, '\\|')} |`),
    '',
    '## Domains at the end',
    '',
    '| domid | name | state | memory (MiB) | CPU (ms) |',
    '|---|---|---|---|---|',
    ...r.domains.map((d) => `| ${d.domid} | ${d.name} | ${d.state} | ${d.memMiB.toFixed(1)} | ${d.cpuMs.toFixed(3)} |`),
  ];
  if (r.problems.length > 0) lines.push('', '## Warnings and errors', '', ...r.problems.map((p) => `- ${p}`));
  for (const [name, text] of Object.entries(r.consoles)) lines.push('', `## Console of ${name} (last lines)`, '', '```', text, '```');
  return `${lines.join('\n')}\n`;
}

/** Writes report.json and report.md into `dir`; returns their paths. */
export function writeScenarioReport(r: ScenarioReport, dir: string): { json: string; markdown: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'report.json');
  const markdown = join(dir, 'report.md');
  writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(markdown, renderScenarioMarkdown(r));
  return { json, markdown };
}
