/** Kernel configuration files: FreeBSD syntax, includes, errors naming file:line, one kernel per file. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseKernelConfig } from '../../../../../plugins/guest/generic/conf/config.js';
import { findKernconfDir, loadKernconfs } from '../../../../../plugins/guest/generic/conf/load.js';

describe('kernel configuration', () => {
  it('parses cpu, ident, options with values, devices and comments', () => {
    const c = parseKernelConfig('K', 'cpu HAMMER\nident  SMALL # name\noptions SMP, HZ=250\ndevice xentimer,balloon\nnodevice balloon\n');
    expect(c.ident).toBe('SMALL');
    expect(c.cpus).toEqual(['HAMMER']);
    expect([...c.options]).toEqual([['SMP', true], ['HZ', '250']]);
    expect([...c.devices]).toEqual(['xentimer']);
  });

  it.each([
    ['cpu HAMMER\nident X\noptions WARP_DRIVE\n', 'K:3: unknown option "WARP_DRIVE"'],
    ['cpu HAMMER\nident X\n\ndevice floppy\n', 'K:4: unknown device "floppy"'],
    ['cpu HAMMER\nbogus line\nident X\n', 'K:2: unknown keyword "bogus"'],
    ['cpu HAMMER\noptions HZ=fast\nident X\n', 'K:2: options HZ needs a whole number'],
    ['cpu HAMMER\n', 'K:2: no "ident" line'],
    ['include MISSING\n', 'K:1: cannot include "MISSING"'],
  ])('reports errors with file:line (%#)', (text, message) => {
    expect(() => parseKernelConfig('K', text)).toThrow(ConfigError);
    expect(() => parseKernelConfig('K', text)).toThrow(message);
  });

  it('reads the project kernels: GENERIC with everything, XENHVM including it, MINIMAL without SMP or balloon', () => {
    const dir = findKernconfDir();
    expect(dir).toBeDefined();
    const { configs, errors } = loadKernconfs(dir!);
    expect(errors).toEqual([]);
    const by = new Map(configs.map((c) => [c.ident, c]));
    expect([...by.keys()].sort()).toEqual(['GENERIC', 'MINIMAL', 'XENHVM']);
    expect(by.get('GENERIC')!.options.has('SMP')).toBe(true);
    expect([...by.get('GENERIC')!.devices].sort()).toEqual(['ata', 'balloon', 'evtchn', 'rl', 'xbd', 'xenpci', 'xentimer', 'xn']);
    expect(by.get('XENHVM')!.options.has('NO_ADAPTIVE_MUTEXES')).toBe(true);
    expect(by.get('XENHVM')!.devices.has('balloon')).toBe(true);
    expect(by.get('MINIMAL')!.options.has('SMP')).toBe(false);
    expect(by.get('MINIMAL')!.devices.has('balloon')).toBe(false);
  });

  it('skips a broken file with its file:line and loads the others; a duplicate ident is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kernconf-'));
    writeFileSync(join(dir, 'GOOD'), 'cpu HAMMER\nident GOOD\n');
    writeFileSync(join(dir, 'BAD'), 'cpu HAMMER\nident BAD\ndevice nosuch\n');
    writeFileSync(join(dir, 'ZAGAIN'), 'cpu HAMMER\nident good\n');
    writeFileSync(join(dir, 'notes.txt'), 'not a kernel');
    const { configs, errors } = loadKernconfs(dir);
    expect(configs.map((c) => c.ident)).toEqual(['GOOD']);
    expect(errors).toHaveLength(2);
    expect(errors.find((e) => e.includes('BAD'))).toMatch(/BAD:3: unknown device "nosuch"/);
    expect(errors.find((e) => e.includes('ZAGAIN'))).toMatch(/ident good is already used/);
  });
});
