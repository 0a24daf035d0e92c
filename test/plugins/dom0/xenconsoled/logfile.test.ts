/** xenconsoled's guest log files (`--log=guest`): a guest's console outlives it, last words included. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Toolstack } from '../../../../core/api/index.js';
import { bootHost, loadDefinition } from '../../../integration/machine.js';
import { runUntil } from '../../guest/generic/helpers.js';
import { settle } from '../toolstack/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'xeno-conslog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('guest log files', () => {
  it('keep a crashed and destroyed guest\'s whole console, its panic included', async () => {
    writeFileSync(join(dir, 'g.cfg'), 'name = "doomed"\ntype = "pvh"\nkernel = "generic"\nmemory = 32\non_crash = "destroy"\n');
    writeFileSync(
      join(dir, 'm.yaml'),
      ['name: conslog', 'seed: 1', 'cpus: 2', 'memory: 512MiB', 'dom0: { memory: 128MiB, vcpus: 1 }', 'plugins:', '  - credit', '  - xenstored', `  - { name: xenconsoled, options: { logDir: ${join(dir, 'logs')} } }`, '  - toolstack', '  - pvh', '  - generic-kernel', 'domains: [g.cfg]', ''].join('\n'),
    );
    const { host } = await bootHost(await loadDefinition(join(dir, 'm.yaml')));
    try {
      const toolstack = host.plugins.resolveAll(Toolstack)[0]!;
      const file = join(dir, 'logs', 'guest-doomed.log');
      expect(runUntil(host, () => existsSync(file) && readFileSync(file, 'utf8').includes('boot: up'), 5e9)).toBe(true);
      const domid = toolstack.find('doomed')!.domid;
      settle(host, toolstack.shutdown(domid, 'crash'));
      expect(runUntil(host, () => host.domains.get(domid) === undefined, 5e9)).toBe(true);
      const text = readFileSync(file, 'utf8');
      expect(text).toMatch(/^---<<BOOT>>---/);
      expect(text).toContain('XEN: PVH guest');
      expect(text).toContain('panic: Xen directed crash');
    } finally {
      await host.shutdown();
    }
  }, 60_000);
});
