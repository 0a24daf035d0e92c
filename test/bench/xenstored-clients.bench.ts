/** xenstored as real clients see it: a C libxenstore client (xs-client.c) timing writes, reads and transactions over the socket. */
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStandalone } from '../../plugins/dom0/xenstored/daemon.js';
import type { Benchmark } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const N = 40_000;

interface Figures {
  writes: number;
  reads: number;
  transactions: number;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** Compiles the client, starts the daemon in this process, runs a warm-up and two measured rounds; keeps the best of each figure. */
async function measure(): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'xs-bench-'));
  const exe = join(dir, 'xs-client');
  try {
    await run('gcc', ['-O2', join(here, 'xs-client.c'), '-lxenstore', '-o', exe]).catch((e: Error) => {
      throw new Error(`${e.message} (needs gcc and libxen-dev: apt-get install --no-install-recommends libxen-dev)`);
    });
    const daemon = await startStandalone({ socket: join(dir, 'xenstored.sock') });
    try {
      const env = { ...process.env, XENSTORED_PATH: daemon.server.path };
      await run(exe, ['5000'], env);
      const best: Figures = { writes: 0, reads: 0, transactions: 0 };
      for (let round = 0; round < 2; round++) {
        const m = /writes (\d+) reads (\d+) transactions (\d+)/.exec(await run(exe, [String(N)], env));
        if (!m) throw new Error('xs-client printed no figures');
        best.writes = Math.max(best.writes, Number(m[1]));
        best.reads = Math.max(best.reads, Number(m[2]));
        best.transactions = Math.max(best.transactions, Number(m[3]));
      }
      return best;
    } finally {
      await daemon.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let figures: Promise<Figures> | undefined;
const once = (): Promise<Figures> => (figures ??= measure());
const detail = `libxenstore C client, one connection, ${N} ops per round, best of 2 after a warm-up`;

export const benchmarks: Benchmark[] = [
  { group: 'xenstored', name: 'C client xs_write (socket)', unit: 'k/s', target: { min: 40 }, run: async () => ({ value: (await once()).writes / 1e3, detail }) },
  { group: 'xenstored', name: 'C client xs_read (socket)', unit: 'k/s', target: { min: 40 }, run: async () => ({ value: (await once()).reads / 1e3, detail }) },
  {
    group: 'xenstored',
    name: 'C client transaction start + write + commit (socket)',
    unit: 'k/s',
    target: { min: 8 },
    run: async () => ({ value: (await once()).transactions / 1e3, detail }),
  },
];
