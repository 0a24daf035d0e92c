/** Dying mid-write: a child SIGKILLed while it writes keeps every write acknowledged by a flush; an image cut off after any one of our pwrites passes qemu-img check. */
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFile } from '../../../../plugins/dom0/disk-images/file.js';
import { DEFAULT_QCOW2_OPTIONS } from '../../../../plugins/dom0/disk-images/qcow2.js';
import { openImageFile } from '../../../../plugins/dom0/disk-images/store.js';
import { DISK_SIZE, FLUSH_EVERY, SLOT, plannedWrite } from './crash-plan.js';
import { check, createImage, qemuImg, qemuIo, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const WRITER = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));
const SECTOR = 512;

/** Runs the writer on `image` and SIGKILLs it once `killAt` writes are flushed; resolves with the writes acknowledged. */
function writeUntilKilled(images: string[], killAt: number): Promise<{ acknowledged: number; signal: string | null; finished: boolean; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, ...images], { stdio: ['ignore', 'pipe', 'pipe'] });
  let acknowledged = 0;
  let finished = false;
  let pending = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => (stderr += text));
  child.stdout.on('data', (text: string) => {
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'done') finished = true;
      else acknowledged = Math.max(acknowledged, Number(line));
    }
    if (acknowledged >= killAt && child.exitCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve) => child.on('exit', (_code, signal) => resolve({ acknowledged, signal, finished, stderr })));
}

/** Each sector of `got` is the sector of `before` or of `after`: a write cut short leaves no third value. */
function sectorsOldOrNew(got: Uint8Array, before: Uint8Array, after: Uint8Array): boolean {
  for (let s = 0; s < got.length; s += SECTOR) {
    const sector = got.subarray(s, s + SECTOR);
    if (Buffer.compare(sector, before.subarray(s, s + SECTOR)) !== 0 && Buffer.compare(sector, after.subarray(s, s + SECTOR)) !== 0) return false;
  }
  return true;
}

/** The disks' bytes after the kill (flat: qemu-img's reading, so our reader is not the judge), against the plan. */
function verifySurvivors(flats: { bytes: Uint8Array; before: Uint8Array }[], acknowledged: number): void {
  for (let i = 0; i < acknowledged + 512; i++) {
    const w = plannedWrite(i);
    for (const { bytes, before } of flats) {
      const got = bytes.subarray(w.offset, w.offset + SLOT);
      if (i < acknowledged) expect(Buffer.compare(got, w.data), `acknowledged write ${i}`).toBe(0);
      else expect(sectorsOldOrNew(got, before.subarray(w.offset, w.offset + SLOT), w.data), `write ${i} in flight or not done`).toBe(true);
    }
  }
}

describe('a writer killed with SIGKILL mid-stream', () => {
  it('keeps every write a flush acknowledged, in a qcow2 image over a backing file and in a raw one; qemu-img check finds no corruption', async () => {
    const base = tmp.path('crash-base.raw');
    const baseBytes = new Uint8Array(DISK_SIZE);
    baseBytes.fill(0x77, 0, 8 << 20);
    createImage(base, 'raw', DISK_SIZE);
    const fd = openSync(base, 'r+');
    writeSync(fd, baseBytes, 0, 8 << 20, 0);
    closeSync(fd);
    const qcow2 = tmp.path('crash.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'crash-base.raw', '-F', 'raw', qcow2);
    const raw = tmp.path('crash.raw');
    createImage(raw, 'raw', DISK_SIZE);

    const run = await writeUntilKilled([qcow2, raw], 16 * FLUSH_EVERY);
    expect(run.stderr).toBe('');
    expect(run.signal).toBe('SIGKILL');
    expect(run.finished).toBe(false);
    expect(run.acknowledged).toBeGreaterThanOrEqual(16 * FLUSH_EVERY);

    const result = check(qcow2);
    expect(result.errors, result.output).toBe(0);
    expect(result.corruptions, result.output).toBe(0);
    expect([0, 3]).toContain(result.status); // 3: clusters leaked by the write in flight, harmless
    const flat = tmp.path('crash-flat.raw');
    qemuImg('convert', '-O', 'raw', qcow2, flat);
    verifySurvivors(
      [
        { bytes: readFileSync(flat), before: baseBytes },
        { bytes: readFileSync(raw), before: new Uint8Array(DISK_SIZE) },
      ],
      run.acknowledged,
    );
  });
});

/** An image file that counts its pwrites, and whose process "dies" (the call throws) once it has done `budget` of them. */
class DyingFile extends ImageFile {
  writes = 0;
  constructor(
    path: string,
    private readonly budget: number,
  ) {
    super(path, false);
  }
  override writeAt(data: Uint8Array, dataOffset: number, length: number, position: number): void {
    if (this.writes >= this.budget) throw new Error('killed');
    this.writes++;
    super.writeAt(data, dataOffset, length, position);
  }
}

describe('an image cut off after any one of our pwrites', () => {
  // 512-byte clusters and 64-bit refcounts: 64 clusters per refcount block. The template ends at
  // cluster 54, so the last step needs a new refcount block; its snapshot makes the first step copy
  // a shared L2 table and shared clusters.
  const template = tmp.path('cut-template.qcow2');
  const SIZE = 3 << 20;
  const steps = [
    { offset: 1000, data: new Uint8Array(600).fill(0x21) },
    { offset: (2 << 20) + 100, data: new Uint8Array(1000).fill(0x22) },
    { offset: 1 << 20, data: new Uint8Array(4096).fill(0x23) },
  ];

  beforeAll(() => {
    createImage(template, 'qcow2', SIZE, ['cluster_size=512', 'refcount_bits=64']);
    expect(qemuIo(template, 'qcow2', 'write -P 0x11 0 4k', 'write -P 0x12 2560k 18k').status).toBe(0);
    qemuImg('snapshot', '-c', 's1', template);
    expect(check(template).output).toMatch(/"image-end-offset": 27648/);
  });

  /** The disk as the steps leave it after the first `done` of them. */
  function expected(done: number): Uint8Array {
    const disk = new Uint8Array(SIZE);
    disk.fill(0x11, 0, 4096);
    disk.fill(0x12, 2560 * 1024, 2578 * 1024);
    for (const s of steps.slice(0, done)) disk.set(s.data, s.offset);
    return disk;
  }

  /** Runs the steps on a copy of the template until the file dies; returns the file and the steps completed. */
  function runSteps(path: string, budget: number): { file: DyingFile; done: number } {
    copyFileSync(template, path);
    const file = new DyingFile(path, budget);
    const disk = openImageFile(file, 'qcow2', DEFAULT_QCOW2_OPTIONS);
    let done = 0;
    try {
      for (const s of steps) {
        disk.write(s.offset, s.data);
        done++;
      }
    } catch (cause) {
      expect((cause as Error).message).toBe('killed');
    } finally {
      disk.close();
    }
    return { file, done };
  }

  it('leaves qemu-img check without errors and every completed write readable, wherever the cut falls', () => {
    const total = runSteps(tmp.path('cut-all.qcow2'), Infinity).file.writes;
    expect(total).toBeGreaterThan(40);
    const states = [expected(0), expected(1), expected(2), expected(3)];
    const got = new Uint8Array(SIZE);
    for (let cut = 0; cut <= total; cut++) {
      const path = tmp.path(`cut-${cut}.qcow2`);
      const { done } = runSteps(path, cut);
      expect(done === steps.length).toBe(cut === total);
      const result = check(path);
      expect(result.errors, `cut after ${cut} pwrites: ${result.output}`).toBe(0);
      expect(result.corruptions, `cut after ${cut} pwrites`).toBe(0);
      if (cut === total) expect(result.leaks).toBe(0);
      // qemu-img judges the data every few cuts; our reader (checked against qemu elsewhere) on the others.
      if (cut % 8 === 0 || cut === total) {
        const flat = tmp.path(`cut-${cut}.raw`);
        qemuImg('convert', '-O', 'raw', path, flat);
        got.set(readFileSync(flat));
        rmSync(flat);
      } else {
        const disk = openImageFile(new ImageFile(path, true), 'qcow2', DEFAULT_QCOW2_OPTIONS);
        disk.read(0, got);
        disk.close();
      }
      expect(sectorsOldOrNew(got, states[done]!, states[Math.min(done + 1, steps.length)]!), `cut after ${cut} pwrites, ${done} steps done`).toBe(true);
      rmSync(path);
    }
  });
});
