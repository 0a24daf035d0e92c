/** Test helpers for disk images: temp folders, the real qemu-img / qemu-io, byte patterns and a raw twin written with plain node:fs. */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestError } from '../../../../core/api/index.js';

/** A temp folder removed by `cleanup()`. */
export function tempDir(): { dir: string; path(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'disk-images-'));
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs qemu-img; throws with its stderr on failure. */
export function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `qemu-img create -q -f <format> [-o opts] path size`. */
export function createImage(path: string, format: 'raw' | 'qcow2', size: number | string, opts: string[] = []): void {
  qemuImg('create', '-q', '-f', format, ...opts.flatMap((o) => ['-o', o]), path, String(size));
}

/** Runs a tool; returns its exit status and output (stdout, then stderr on failure) instead of throwing. */
function run(tool: string, args: string[]): { status: number; output: string } {
  try {
    return { status: 0, output: execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (cause) {
    const failed = cause as { status: number; stdout: string; stderr: string };
    return { status: failed.status, output: `${failed.stdout}${failed.stderr}` };
  }
}

/** What `qemu-img check --output=json` found, and its exit status (0 clean, 2 corrupt, 3 leaks). */
export interface CheckResult {
  status: number;
  errors: number;
  corruptions: number;
  leaks: number;
  output: string;
}

export function check(path: string): CheckResult {
  const { status, output } = run('qemu-img', ['check', '--output=json', path]);
  const json = /\{[\s\S]*\}/.exec(output);
  const report = json ? (JSON.parse(json[0]) as Record<string, number>) : {};
  return { status, errors: report['check-errors'] ?? -1, corruptions: report.corruptions ?? 0, leaks: report.leaks ?? 0, output };
}

/** `qemu-img compare` exit status: 0 identical, 1 different. */
export function compare(a: string, b: string): { status: number; output: string } {
  return run('qemu-img', ['compare', a, b]);
}

/** Runs qemu-io commands on an image; returns exit status and output (status 1 when a pattern does not match). */
export function qemuIo(path: string, format: 'raw' | 'qcow2', ...commands: string[]): { status: number; output: string } {
  return run('qemu-io', ['-f', format, ...commands.flatMap((c) => ['-c', c]), path]);
}

/** Deterministic bytes: a pattern that differs per `seed` and per position. */
export function pattern(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A raw file written with plain positioned writes: the reference `qemu-img compare` checks our images against. */
export function writeRawTwin(path: string, writes: readonly { offset: number; data: Uint8Array }[], size: number): void {
  createImage(path, 'raw', size);
  const fd = openSync(path, 'r+');
  try {
    for (const w of writes) writeSync(fd, w.data, 0, w.data.length, w.offset);
  } finally {
    closeSync(fd);
  }
}

/** The `GuestError` a call throws (fails the test if it throws something else or nothing). */
export function guestError(fn: () => unknown): GuestError {
  try {
    fn();
  } catch (cause) {
    if (cause instanceof GuestError) return cause;
    throw cause;
  }
  throw new Error('expected a GuestError, nothing was thrown');
}
