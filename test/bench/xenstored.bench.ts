/** xenstored engine benchmarks, in process: framed messages through a session to a no-op connection. */
import type { XsConnection, XsSession } from '../../plugins/dom0/xenstored/connection.js';
import { XenstoreEngine } from '../../plugins/dom0/xenstored/engine.js';
import {
  XENSTORE_PAYLOAD_MAX, XS_HEADER_SIZE, XsType, encodeMessage, latin1, putLatin1, readU32, writeU32,
} from '../../plugins/dom0/xenstored/wire.js';
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

/**
 * A client as lean as libxenstore's: one request buffer reused for every message (a view per length,
 * made once), the path copied in byte by byte, children decoded with the engine's latin1.
 */
class LeanClient {
  private readonly buf = new Uint8Array(XS_HEADER_SIZE + XENSTORE_PAYLOAD_MAX);
  private readonly views: Uint8Array[] = [];
  constructor(private readonly session: XsSession) {}

  /** Sends `type` with payload `<dir><name>\0` (as xenstore-ls's snprintf of parent and child). */
  send(type: number, dir: string, name: string): void {
    const b = this.buf;
    const end = putLatin1(b, putLatin1(b, XS_HEADER_SIZE, dir), name);
    b[end] = 0;
    const total = end + 1;
    writeU32(b, 0, type);
    writeU32(b, 4, 1);
    writeU32(b, 8, 0);
    writeU32(b, 12, total - XS_HEADER_SIZE);
    this.session.receive((this.views[total] ??= b.subarray(0, total)));
  }

  /** The path of the last request plus a `/`: the prefix of its children's paths. */
  lastPathAsDir(): string {
    const end = XS_HEADER_SIZE + readU32(this.buf, 12) - 1;
    if (end === XS_HEADER_SIZE + 1) return '/';
    this.buf[end] = 47;
    return latin1(this.buf, XS_HEADER_SIZE, end + 1);
  }
}

/** Recursive DIRECTORY of a 120,000-node tree (as xenstore-ls walks it), ms. */
function walk(): { ms: number; nodes: number } {
  const { engine, sink, session } = setup();
  for (let d = 0; d < 100; d++) for (let v = 0; v < 40; v++) for (let k = 0; k < 29; k++) engine.write(`/local/domain/${d}/device/vbd/${v}/k${k}`, 'x');
  const client = new LeanClient(session);
  let best = Infinity; let nodes = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = nowMs();
    nodes = 0;
    // Pending nodes as (parent path with its trailing `/`, name) pairs, written into the request as they are.
    const dirs: string[] = [''];
    const names: string[] = ['/'];
    while (names.length > 0) {
      const dir = dirs.pop()!;
      const name = names.pop()!;
      nodes++;
      client.send(XsType.DIRECTORY, dir, name);
      const out = sink.last;
      const end = XS_HEADER_SIZE + readU32(out, 12);
      if (end === XS_HEADER_SIZE) continue;
      const prefix = client.lastPathAsDir();
      let s = XS_HEADER_SIZE;
      for (let i = s; i < end; i++) {
        if (out[i] === 0) { dirs.push(prefix); names.push(latin1(out, s, i)); s = i + 1; }
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
