import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginHost } from '../../../core/plugin-host/host.js';
import { catalogOf, rejection } from './helpers.js';

const FIXTURE = resolve(import.meta.dirname, '../../fixtures/packages/xeno-plugin-hello');
const Greeting = Symbol.for('xenoserver:hello.Greeting');

describe('plugin host: npm package plugins', () => {
  let dir: string;
  let machine: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xeno-pkg-'));
    await mkdir(join(dir, 'machines', 'node_modules'), { recursive: true });
    await symlink(FIXTURE, join(dir, 'machines', 'node_modules', 'xeno-plugin-hello'), 'dir');
    machine = join(dir, 'machines', 'lab.yaml');
    await writeFile(machine, 'plugins:\n  - package: xeno-plugin-hello\n    options: { greeting: hi }\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a package by name, resolved from the configuration file, and starts it', async () => {
    const lines: string[] = [];
    const host = new PluginHost({
      catalog: catalogOf([]),
      logger: (source) => ({ debug() {}, info: (m) => void lines.push(`${source}: ${m}`), warn() {}, error() {}, child: () => { throw new Error('unused'); } }),
    });
    await host.run([{ package: 'xeno-plugin-hello', options: { greeting: 'hi' }, where: { file: machine, path: 'plugins[0]' } }]);
    expect(host.status('hello')).toEqual({ name: 'hello', kind: 'workload', version: '1.2.0', description: 'Says hello once started', source: 'package xeno-plugin-hello', status: 'started' });
    expect(host.resolveAll(Greeting)).toEqual(['hi from hello']);
    expect(lines).toEqual(['plugin hello: hi, world']);
  });

  it('checks a package plugin\'s options like any other', async () => {
    const host = new PluginHost({ catalog: catalogOf([]) });
    const error = await rejection(host.load([{ package: 'xeno-plugin-hello', options: { greting: 'hi' }, where: { file: machine, path: 'plugins[0]' } }]));
    expect(error.message).toBe(`${machine} › plugins[0].options.greting (plugin hello): unknown key "greting" (did you mean "greeting"?)`);
  });

  it('does not find a package from a configuration file elsewhere', async () => {
    const host = new PluginHost({ catalog: catalogOf([]) });
    const error = await rejection(host.load([{ package: 'xeno-plugin-hello', where: { file: join(dir, 'lab.yaml'), path: 'plugins[0]' } }]));
    expect(error.message).toBe(`${join(dir, 'lab.yaml')} › plugins[0]: cannot find package "xeno-plugin-hello" from ${dir}`);
  });
});
