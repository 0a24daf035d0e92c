import { describe, expect, it } from 'vitest';
import { formatSize, parseDuration, parseSize } from '../../../core/config/units.js';
import { formatPath, parsePath } from '../../../core/config/paths.js';
import { closeMatches } from '../../../core/config/suggest.js';

describe('parseSize', () => {
  it.each([
    ['16GiB', 16 * 1024 ** 3],
    ['512M', 512 * 1024 ** 2],
    ['512m', 512 * 1024 ** 2],
    ['1k', 1024],
    ['2 TiB', 2 * 1024 ** 4],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['4096B', 4096],
    [256, 256 * 1024 ** 2],
  ])('reads %j', (input, bytes) => {
    expect(parseSize(input)).toEqual({ bytes });
  });

  it('says what a size looks like when it is not one', () => {
    expect(parseSize('lots')).toEqual({ error: 'expected a size like 512MiB, 2G or a number of MiB, got "lots"' });
  });

  it('rejects decimal units with a hint', () => {
    expect(parseSize('2GB')).toEqual({ error: 'unknown size unit "GB" in "2GB" (sizes are binary: write GiB)' });
  });

  it('rejects fractions of a byte', () => {
    expect('error' in parseSize('1.5B')).toBe(true);
  });
});

describe('parseDuration', () => {
  it.each([
    ['500ms', 500e6],
    ['2s', 2e9],
    ['1m', 60e9],
    ['10us', 10e3],
    ['7ns', 7],
  ])('reads %s', (input, ns) => {
    expect(parseDuration(input)).toEqual({ ns });
  });

  it('asks for a unit when given a bare number', () => {
    expect(parseDuration(5)).toEqual({ error: 'expected a duration like 500ms, 2s or 1m, got 5 (say which unit)' });
  });
});

describe('formatSize', () => {
  it('uses the largest unit that divides', () => {
    expect(formatSize(16 * 1024 ** 3)).toBe('16GiB');
    expect(formatSize(1536 * 1024)).toBe('1536KiB');
    expect(formatSize(7)).toBe('7B');
  });
});

describe('key paths', () => {
  it('round-trips through text', () => {
    const path = ['domains', 2, 'disk', 0, 'weird.key'];
    expect(formatPath(path)).toBe('domains[2].disk[0]["weird.key"]');
    expect(parsePath(formatPath(path))).toEqual(path);
  });

  it('suggests close words, transpositions included', () => {
    expect(closeMatches('memroy', ['memory', 'maxmem'])[0]).toBe('memory');
    expect(closeMatches('hpa', ['hap', 'shadow'])[0]).toBe('hap');
    expect(closeMatches('zzzzzz', ['memory'])).toEqual([]);
  });
});
