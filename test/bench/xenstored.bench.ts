/** xenstored engine benchmarks, in process: framed messages through a session to a no-op connection. */
import type { XsConnection } from '../../plugins/dom0/xenstored/connection.js';
import { XenstoreEngine } from '../../plugins/dom0/xenstored/engine.js';
import { XsType, encodeMessage, latin1, readU32 } from '../../plugins/dom0/xenstored/wire.js';
import { type Benchmark, nowMs, opsPerSecond } from './harness.js';

class Sink implements XsConnection {
  readonly id = 1; readonly domid = 0; readonly label = 'bench';
  last: Uint8Array = new Uint8Array(0);
  write(b: Uint8Array): void { this.last = b; }
  close(): void {}
}

function setup() {
  const engine = new XenstoreEngine();
  const sink = new Sink();
  return { engine, sink, session: engine.connect(sink) };
}

function reads(): number {
  const { engine, session } = setup();
  engine.write('/local/domain/1/device/vbd/51712/state', '4');
  const msg = encodeMessage(XsType.READ, 1, 0, '/local/domain/1/device/vbd/51712/state\0');
  return opsPerSecond((n) => { for (let i = 0; i < n; i++) session.receive(msg); });
}

function writes(): number {
  const { session } = setup();
  const msgs = Array.from({ length: 64 }, (_, i) => encodeMessage(XsType.WRITE, 1, 0, `/local/domain/1/data/k${i}\0value`));
  return opsPerSecond((n) => { for (let i = 0; i < n; i++) session.receive(msgs[i & 63]!); });
}

/** Recursive DIRECTORY of a 120,000-node tree (as xenstore-ls walks it), ms. */
function walk(): { ms: number; nodes: number } {
  const { engine, sink, session } = setup();
  for (let d = 0; d < 100; d++) for (let v = 0; v < 40; v++) for (let k = 0; k < 29; k++) engine.write(`/local/domain/${d}/device/vbd/${v}/k${k}`, 'x');
  let best = Infinity; let nodes = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = nowMs();
    nodes = 0;
    const stack = ['/'];
    while (stack.length > 0) {
      const p = stack.pop()!;
      nodes++;
      session.receive(encodeMessage(XsType.DIRECTORY, 1, 0, `${p}\0`));
      const out = sink.last;
      const len = readU32(out, 12);
      let s = 16;
      for (let i = 16; i < 16 + len; i++) {
        if (out[i] === 0) { stack.push((p === '/' ? '/' : `${p}/`) + latin1(out, s, i)); s = i + 1; }
      }
    }
    best = Math.min(best, nowMs() - t0);
  }
  return { ms: best, nodes };
}

export const benchmarks: Benchmark[] = [
  { group: 'xenstored', name: 'READ through the message path', unit: 'M ops/s', target: { min: 1 }, run: () => ({ value: reads() / 1e6 }) },
  { group: 'xenstored', name: 'WRITE through the message path', unit: 'k ops/s', target: { min: 300 }, run: () => ({ value: writes() / 1e3 }) },
  { group: 'xenstored', name: 'walk (recursive DIRECTORY) of a 120k-node tree', unit: 'ms', target: { max: 100 }, run: () => { const w = walk(); return { value: w.ms, detail: `${w.nodes} nodes` }; } },
];
