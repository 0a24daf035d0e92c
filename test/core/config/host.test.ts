import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../core/api/errors.js';
import { resolveHostDefinition } from '../../../core/config/host.js';
import { checkHostDefinition, ConfigErrors, loadHostDefinition } from '../../../core/config/load.js';
import { validate } from '../../../core/config/validate.js';
import { Type } from '@sinclair/typebox';

const FIX = 'test/fixtures/config';
const noFiles = { loadDomainFile: () => ({ errors: [new ConfigError('no files in this test')], warnings: [] }) };

describe('loadHostDefinition', () => {
  it('loads the example of the brief, normalized, with its guests', async () => {
    const { host, warnings } = await loadHostDefinition(`${FIX}/good/machines/lab.yaml`);
    expect(warnings).toEqual([]);
    expect(host).toMatchObject({
      file: `${FIX}/good/machines/lab.yaml`,
      name: 'lab',
      runDir: 'run/lab',
      seed: 42,
      cpus: { count: 4, mhz: 2500 },
      memoryBytes: 16 * 1024 ** 3,
      scheduler: 'credit',
      paging: 'hap',
      pacing: 'afap',
      features: ['HAP'],
      build: 'default',
      dom0: { memoryBytes: 1024 ** 3, vcpus: 1 },
      plugins: [
        { name: 'credit', options: {}, path: ['plugins', 0, 'options'] },
        { name: 'xenstored', options: { accessLog: true }, path: ['plugins', 1, 'options'] },
        { package: 'xeno-plugin-hello', options: {}, path: ['plugins', 2, 'options'] },
      ],
      devices: [{ bdf: '0000:00:19.0', kind: 'nic', model: 'e1000', address: { segment: 0, bus: 0, device: 0x19, function: 0 } }],
      run: { durationNs: 1e9 },
    });
    expect(host.cost.vmExit).toBe(1500);
    expect(host.cost.cpuMhz).toBe(2500);
    expect(host.domains.map((d) => [d.name, d.type, d.source.file, d.source.path])).toEqual([
      ['pvh1', 'pvh', `${FIX}/good/domains/pvh.cfg`, undefined],
      ['inline1', 'pvh', `${FIX}/good/machines/lab.yaml`, 'domains[1]'],
      ['small', 'pv', `${FIX}/good/domains/small.yaml`, undefined],
    ]);
    expect(host.domains[2]!.memoryBytes).toBe(64 * 1024 ** 2);
  });

  it('gives the line of any key path, for the plugin host to validate options with', async () => {
    const { host } = await loadHostDefinition(`${FIX}/good/machines/lab.yaml`);
    const plugin = host.plugins[1]!;
    const errors = validate(Type.Object({ accessLog: Type.String() }, { additionalProperties: false }), plugin.options, { file: host.file, basePath: plugin.path, plugin: 'xenstored', lineOf: host.lineOf });
    expect(errors.map((e) => e.message)).toEqual([`${FIX}/good/machines/lab.yaml:15 › plugins[1].options.accessLog (plugin xenstored): expected a string, got true`]);
  });

  it('searches a directory for .xenorc and applies the defaults', async () => {
    const { host } = await loadHostDefinition(`${FIX}/rc`);
    expect(host).toMatchObject({ name: 'rc-host', seed: 0, cpus: { count: 1, mhz: 3000 }, scheduler: 'credit', paging: 'hap', pacing: 'afap', dom0: { memoryBytes: 512 * 1024 ** 2, vcpus: 1 }, run: { durationNs: null } });
  });

  it('reports every error of the host file and of its guest files, each with file, line and key path', async () => {
    const r = await checkHostDefinition(`${FIX}/bad-many`);
    const host = `${FIX}/bad-many/xeno.config.yaml`;
    expect(r.host).toBeUndefined();
    expect(r.errors.map((e) => e.message)).toEqual([
      `${host}:2 › memroy: unknown key "memroy" (did you mean "memory"?)`,
      `${host}:3 › memory: expected a size like 512MiB, 2G or a number of MiB, got "lots"`,
      `${host}:4 › cpus: expected a CPU count or { count, mhz }, got "many"`,
      `${host}:5 › cost.vmexit: unknown key "vmexit" (did you mean "vmExit"?)`,
      `${host}:6 › paging: expected one of "hap", "shadow", got "hpa" (did you mean "hap"?)`,
      `${host}:13 › domains[1].vcpu: unknown xl.cfg key "vcpu" (did you mean "vcpus" or "maxvcpus"?)`,
      `${host}:14 › run.duration: expected a duration like 500ms, 2s or 1m, got 5`,
      `${FIX}/bad-many/broken.cfg:4 › disk[0]: unknown disk format "qcow3" (known: raw, qcow, qcow2, vhd, qed, empty)`,
    ]);
    expect(r.warnings.map((e) => e.message)).toEqual([`${FIX}/bad-many/broken.cfg:5 › vnc: "vnc" is an xl.cfg key xenoserver does not support yet; it is ignored`]);
  });

  it('reports malformed YAML with its line', async () => {
    const r = await checkHostDefinition(`${FIX}/bad-yaml`);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.message).toMatch(new RegExp(`^${FIX}/bad-yaml/xeno.config.yml:\\d+: YAML syntax error: `));
  });

  it('says so when there is nothing to load', async () => {
    expect((await checkHostDefinition(`${FIX}/empty`)).errors.map((e) => e.message)).toEqual([`${FIX}/empty/xeno.config.yaml: the host definition is empty`]);
    expect((await checkHostDefinition(`${FIX}`)).errors[0]!.message).toMatch(/no host definition found/);
    expect((await checkHostDefinition(`${FIX}/missing.yaml`)).errors[0]!.message).toBe(`${FIX}/missing.yaml: cannot read the host definition: no such file or directory`);
  });

  it('throws ConfigErrors listing everything', async () => {
    await expect(loadHostDefinition(`${FIX}/bad-many`)).rejects.toThrow(ConfigErrors);
    await expect(loadHostDefinition(`${FIX}/bad-many`)).rejects.toThrow(/^8 configuration errors:\n {2}test\/fixtures/);
  });

  it('names a guest file that does not exist at its entry', () => {
    const r = resolveHostDefinition({ name: 'h', domains: ['nope.cfg'] }, { file: 'h.yaml', lineOf: (p) => (p.length === 2 ? 7 : undefined), loadDomainFile: noFiles.loadDomainFile });
    expect(r.errors.map((e) => e.message)).toEqual(['h.yaml:7 › domains[0]: no files in this test']);
  });
});

describe('resolveHostDefinition: checks across keys', () => {
  const resolve = (v: unknown) => resolveHostDefinition(v, { file: 'h.yaml', ...noFiles });
  const guest = (extra: Record<string, unknown> = {}) => ({ name: 'g', kernel: 'generic', ...extra });

  it('rejects an unknown cost name, with a hint', () => {
    expect(resolve({ name: 'h', cost: { hypercal: 5 } }).errors.map((e) => e.message)).toEqual(['h.yaml › cost.hypercal: unknown key "hypercal" (did you mean "hypercall"?)']);
  });

  it('rejects a clock given twice differently', () => {
    expect(resolve({ name: 'h', cpus: { count: 2, mhz: 2000 }, cost: { cpuMhz: 3000 } }).errors.map((e) => e.detail)).toEqual(['cost.cpuMhz (3000) contradicts cpus.mhz (2000); give the clock once']);
  });

  it('rejects duplicate guest names, Domain-0, and pins to CPUs the host lacks', () => {
    const r = resolve({ name: 'h', cpus: 2, domains: [guest(), guest(), guest({ name: 'Domain-0' }), guest({ name: 'p', cpus: '0-3' })] });
    expect(r.errors.map((e) => `${e.where.path}: ${e.detail}`)).toEqual([
      'domains[1]: guest name "g" is already used by domains[0]',
      'domains[2]: a guest cannot be named Domain-0 (that is dom0)',
      'domains[3]: guest "p" is pinned to CPU 2 but the host has 2 (0-1)',
    ]);
  });

  it('rejects passthrough of a device the host does not have', () => {
    const r = resolve({ name: 'h', devices: [{ bdf: '00:19.0', kind: 'nic', model: 'e1000' }], domains: [guest({ pci: ['00:19.0', '03:00.0'] })] });
    expect(r.errors.map((e) => e.detail)).toEqual(['guest "g" pci[1]: 0000:03:00.0 is not among the host\'s devices']);
  });

  it('rejects guests that do not fit in memory', () => {
    const r = resolve({ name: 'h', memory: '1GiB', domains: [guest({ memory: 768 })] });
    expect(r.errors.map((e) => e.detail)).toEqual(['dom0 and the guests need 1280MiB but the host has 1GiB']);
  });

  it('rejects a plugin listed twice and a malformed plugin entry', () => {
    const r = resolve({ name: 'h', plugins: ['credit', { name: 'credit' }, { name: 'x', package: 'y' }, 5] });
    expect(r.errors.map((e) => `${e.where.path}: ${e.detail}`)).toEqual([
      'plugins[2].package: unknown key "package" (known keys: name, options)',
      'plugins[3]: expected string or map, got 5',
      'plugins[1]: plugin credit is already listed at plugins[0]',
    ]);
  });
});
