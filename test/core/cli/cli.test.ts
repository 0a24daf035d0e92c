import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../core/cli/main.js';
import { treeCatalog } from '../../../plugins/catalog.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

async function xeno(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { catalog: treeCatalog, cwd: ROOT, stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xeno-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('xeno info', () => {
  it("prints the default machine's facts in xl info's key : value layout", async () => {
    const r = await xeno('info');
    expect(r.code).toBe(0);
    const rows = Object.fromEntries(r.out.trimEnd().split('\n').map((l) => [l.slice(0, 23).trimEnd(), l.slice(25)]));
    expect(r.out.split('\n')[0]).toBe('host                   : default');
    expect(rows).toMatchObject({ nr_cpus: '4', max_cpu_id: '3', cpu_mhz: '3000.000', total_memory: '8192', xen_major: '4', xen_minor: '17', xen_scheduler: 'credit', xen_pagesize: '4096', nr_domains: '5' });
    // Dom0 1 GiB + the guests' 256 (PV, ballooned down from maxmem 512) + 512 (PVH) + 1024 (PVHVM) + 256 (HVM) MiB, plus P2M tables (mostly Dom0's 4 KiB ones), special pages, shared info.
    expect(Number(rows.free_memory)).toBe(8192 - 1024 - 2048 - 2);
  });
});

describe('xeno plugins', () => {
  it('lists every plugin of the build with kind and version', async () => {
    const r = await xeno('plugins');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^NAME\s+KIND\s+VERSION\s+STATUS\s+SOURCE$/m);
    expect(r.out).toMatch(/^credit\s+scheduler\s+0\.1\.0\s+available\s+plugins\/schedulers\/credit$/m);
    expect(r.out).toMatch(/^cpu-loop\s+workload\s+0\.1\.0\s+available/m);
  });

  it("shows a machine's plugins as they started", async () => {
    const r = await xeno('plugins', 'config/machines/default.yaml');
    expect(r.out).toMatch(/^credit\s+scheduler\s+0\.1\.0\s+started/m);
    expect(r.out).toMatch(/^template\s+dom0-service\s+0\.1\.0\s+available/m);
  });
});

describe('xeno config check', () => {
  it('accepts the shipped examples', async () => {
    for (const f of ['config/machines/default.yaml', 'config/domains/pv.cfg', 'config/domains/pvh.cfg', 'config/domains/hvm.cfg']) {
      const r = await xeno('config', 'check', f);
      expect(r.code, `${f}: ${r.err}`).toBe(0);
      expect(r.out).toContain(`${f}: OK`);
    }
  });

  it('lists every error with file, line and key, and exits 1', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, ['name: lab', 'cpus: 4', 'memroy: 4GiB', 'cost: { vmexit: 1 }', 'dom0: { memory: lots }', ''].join('\n'));
    const r = await xeno('config', 'check', file);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad\.yaml:3 › memroy: unknown key "memroy" \(did you mean "memory"\?\)/);
    expect(r.err).toMatch(/bad\.yaml:4 › cost\.vmexit/);
    expect(r.err).toMatch(/bad\.yaml:5 › dom0\.memory/);
    expect(r.err).toMatch(/3 errors/);
  });

  it('points at the line and column of an xl.cfg syntax error', async () => {
    const file = join(dir, 'guest.cfg');
    await writeFile(file, ['name = "g"', 'memory = 128', 'kernel = "generic', ''].join('\n'));
    const r = await xeno('config', 'check', file);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/guest\.cfg:3:10/);
  });
});

describe('xeno config schema', () => {
  it("emits a JSON Schema that includes each plugin's options", async () => {
    const r = await xeno('config', 'schema');
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.out) as Record<string, unknown>;
    expect(JSON.stringify(schema)).toContain('tslice_ms');
    expect(JSON.stringify(schema)).toContain('burstCycles');
  });
});

describe('xeno run', () => {
  it('reports the same trace hash for the same seed, as JSON', async () => {
    const a = JSON.parse((await xeno('run', '--duration', '100ms', '--json')).out) as { traceHash: string; simulatedNs: number; domains: unknown[] };
    const b = JSON.parse((await xeno('run', '--duration', '100ms', '--json')).out) as { traceHash: string };
    expect(a.simulatedNs).toBe(100e6);
    expect(a.domains).toHaveLength(5);
    expect(b.traceHash).toBe(a.traceHash);
    // The default machine draws no random numbers; a workload that does makes the seed matter.
    const machine = join(dir, 'random.yaml');
    await writeFile(machine, ['name: random', 'cpus: 2', 'memory: 1GiB', 'dom0: { memory: 128MiB }', 'plugins: [credit, cpu-loop]', 'domains: [{ name: g, type: pvh, kernel: generic, memory: 32, vcpus: 2 }]', ''].join('\n'));
    const seeded = async (seed: string) => (JSON.parse((await xeno('run', machine, '--duration', '50ms', '--json', '--seed', seed)).out) as { traceHash: string }).traceHash;
    expect(await seeded('1')).toBe(await seeded('1'));
    expect(await seeded('7')).not.toBe(await seeded('1'));
  });

  it('prints the domain list in xl list columns', async () => {
    const r = await xeno('run', '--duration', '50ms');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toContain('Name                                        ID   Mem VCPUs\tState\tTime(s)');
    expect(r.out).toMatch(/^Domain-0 {32} {5}0  1024 {5}2 {5}[r-][b-]----  +\d+\.\d$/m);
  });

  it("carries out the README's main job (config/scenarios/default.yaml) on every guest mode without a failed step", async () => {
    let out = '';
    const code = await runCli(['run', join(ROOT, 'config/scenarios/default.yaml')], { catalog: treeCatalog, cwd: dir, stdout: (t) => (out += t), stderr: (t) => (out += t) });
    expect(out).toMatch(/^# Scenario default: passed$/m);
    expect(code).toBe(0);
    const json = /^report: (\S+\.json), /m.exec(out)![1]!;
    const report = JSON.parse(await readFile(json, 'utf8')) as { steps: { action: string; status: string }[] };
    expect(report.steps.every((s) => s.status === 'ok')).toBe(true);
    expect(report.steps.map((s) => s.action)).toContain('reboot');
  }, 60_000);

  it('carries out a scenario and writes its report as JSON and Markdown', async () => {
    const file = join(dir, 'scenario.yaml');
    await writeFile(
      file,
      [
        'scenario: cli-test',
        `machine: ${join(ROOT, 'config/machines/default.yaml')}`,
        `report: { dir: ${join(dir, 'report')} }`,
        'timeline:',
        '  - wait: { domain: pvh-guest, console: "# " }',
        '  - input: { domain: pvh-guest, text: "echo scenario says hi\\n" }',
        '  - wait: { domain: pvh-guest, console: "scenario says hi" }',
        '  - shutdown: { domain: pvh-guest, wait: true }',
        '  - { wait: { domain: pv-guest, state: paused }, timeout: 10ms }',
        '',
      ].join('\n'),
    );
    const r = await xeno('run', file);
    expect(r.code).toBe(1); // the last step cannot happen: pv-guest never pauses
    expect(r.out).toMatch(/^# Scenario cli-test: FAILED$/m);
    const report = JSON.parse(await readFile(join(dir, 'report', 'report.json'), 'utf8')) as { ok: boolean; steps: { action: string; status: string; error?: string }[]; domains: { name: string }[] };
    expect(report.steps.map((s) => `${s.action} ${s.status}`)).toEqual(['wait ok', 'input ok', 'wait ok', 'shutdown ok', 'wait failed']);
    expect(report.steps[4]!.error).toBe('waiting for pv-guest to be paused did not finish within 0.01 s of virtual time');
    expect(report.domains.map((d) => d.name)).toEqual(['Domain-0', 'pv-guest', 'hvm-guest', 'hvm-plain']); // pvh-guest powered off and was destroyed
    expect(await readFile(join(dir, 'report', 'report.md'), 'utf8')).toContain('| 4 | shutdown | pvh-guest | ok |');
  });

  it('names the file, line and key of a bad scenario step', async () => {
    const file = join(dir, 'bad-scenario.yaml');
    await writeFile(file, ['scenario: bad', 'machine: x.yaml', 'timeline:', '  - create: a.cfg', '  - explode: now', ''].join('\n'));
    const r = await xeno('run', file);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad-scenario\.yaml:5 › timeline\[1\]/);
  });

  it('rejects a bad duration and a missing machine file clearly', async () => {
    expect((await xeno('run', '--duration', 'soon')).err).toMatch(/--duration: expected/);
    const r = await xeno('run', 'config/machines/nope.yaml');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nope\.yaml/);
  });
});
