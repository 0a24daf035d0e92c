import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, type BuiltBundle } from '../../core/plugin-host/bundle.js';
import { treeCatalog } from '../../plugins/catalog.js';

const run = promisify(execFile);
const STUB = { module: resolve(import.meta.dirname, 'cli-stub.ts') };

/** Runs a bundle with `args`; resolves with its exit code and output. */
async function xeno(file: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [file, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('bundles built from profiles', () => {
  let out: string;
  let minimal: BuiltBundle;
  let full: BuiltBundle;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'xeno-build-'));
    minimal = await buildBundle('minimal', { outDir: out, tree: treeCatalog, cli: STUB });
    full = await buildBundle('default', { outDir: out, tree: treeCatalog, cli: STUB });
  }, 60_000);
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('writes build/<profile>/xeno.mjs and a build.json naming the features and the plugins with their versions', async () => {
    expect(minimal.outFile).toBe(join(out, 'minimal', 'xeno.mjs'));
    const info = JSON.parse(await readFile(join(out, 'minimal', 'build.json'), 'utf8'));
    expect(info).toEqual(minimal.info);
    expect(info.profile).toBe('minimal');
    expect(info.features).toContain('SCHED_CREDIT');
    expect(info.plugins).toEqual([{ name: 'credit', version: expect.stringMatching(/^\d+\.\d+\.\d+/), kind: 'scheduler', source: 'plugins/schedulers/credit' }]);
    expect(full.info.plugins.map((p) => p.name)).toEqual(['acpi-pm', 'blkback', 'bridge', 'cpu-loop', 'credit', 'device-model', 'disk-images', 'generic-kernel', 'hvm', 'netback', 'piix-ide', 'pit8254', 'pv', 'pvh', 'pvhvm', 'rtc146818', 'rtl8139', 'template', 'toolstack', 'uart16550', 'xen-platform', 'xenconsoled', 'xenstored']);
  });

  it('contains credit and not template in the minimal build', async () => {
    const { code, stdout } = await xeno(minimal.outFile, 'names');
    expect(code).toBe(0);
    const listed = JSON.parse(stdout);
    expect(listed).toMatchObject({ build: 'minimal', names: ['credit'] });
    expect(listed.tree).toEqual(expect.arrayContaining(['credit', 'template']));
    expect(listed.core).toEqual(minimal.info.coreFeatures);
    const code_ = await readFile(minimal.outFile, 'utf8');
    expect(code_).toContain('plugins/schedulers/credit/');
    expect(code_).not.toContain('plugins/_template/');
  });

  it('loads a plugin of the build, and fails naming the plugin and the build for one outside it', async () => {
    expect(await xeno(minimal.outFile, 'load', 'credit')).toMatchObject({ code: 0, stdout: expect.stringContaining('["credit","enabled"]') });
    const outside = await xeno(minimal.outFile, 'load', 'credit', 'template');
    expect(outside.code).toBe(1);
    expect(outside.stderr.trim()).toBe('machine.yaml › plugins[1]: plugin "template" is not in build "minimal"');
    expect((await xeno(full.outFile, 'load', 'template')).code).toBe(0);
  });

  it('runs on its own, away from the repository and its node_modules', async () => {
    const away = await mkdtemp(join(tmpdir(), 'xeno-away-'));
    try {
      await copyFile(minimal.outFile, join(away, 'xeno.mjs'));
      expect(await xeno(join(away, 'xeno.mjs'), 'names')).toMatchObject({ code: 0, stdout: expect.stringContaining('"names":["credit"]') });
    } finally {
      await rm(away, { recursive: true, force: true });
    }
  });

  it('gives the same bundle and build.json for the same profile (the tree catalog found by default)', async () => {
    const again = await buildBundle('minimal', { outDir: join(out, 'again'), cli: STUB });
    expect(await readFile(again.outFile, 'utf8')).toBe(await readFile(minimal.outFile, 'utf8'));
    expect(again.info).toEqual(minimal.info);
  });
});
