/** xenstored engine benchmarks, in process: framed messages through a session to a no-op connection. */
import type { XsConnection, XsSession } from '../../plugins/dom0/xenstored/connection.js';
import type { XenstoreOps } from '../../core/api/index.js';
import { createXenstore } from '../../plugins/dom0/xenstored/client.js';
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
function walk(rounds = 5): { ms: number; nodes: number } {
  const { engine, sink, session } = setup();
  for (let d = 0; d < 100; d++) for (let v = 0; v < 40; v++) for (let k = 0; k < 29; k++) engine.write(`/local/domain/${d}/device/vbd/${v}/k${k}`, 'x');
  const client = new LeanClient(session);
  let best = Infinity; let nodes = 0;
  for (let r = 0; r < rounds; r++) {
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

/** A domain's home as libxl writes it (about 55 nodes, 20 with their own permissions), like the toolstack's. */
function writeHome(tx: XenstoreOps, d: number): void {
  const home = `/local/domain/${d}`;
  const vm = `/vm/00000000-0000-0000-0000-${String(d).padStart(12, '0')}`;
  const ro = ['n0', `r${d}`];
  const rw = [`n${d}`];
  const w = (path: string, value: string, perms?: string[]): void => {
    tx.write(path, value);
    if (perms) tx.setPerms(path, perms);
  };
  w(vm, '', ro);
  for (const k of ['uuid', 'name', 'start_time', 'image/ostype']) w(`${vm}/${k}`, 'x');
  w(home, '', ro);
  for (const k of ['vm', 'name', 'domid']) w(`${home}/${k}`, String(d));
  w(`${home}/cpu`, '', ro);
  for (let i = 0; i < 2; i++) w(`${home}/cpu/${i}/availability`, 'online');
  w(`${home}/memory`, '', ro);
  for (const k of ['static-max', 'target']) w(`${home}/memory/${k}`, '1048576');
  for (const k of ['port', 'ring-ref']) w(`${home}/store/${k}`, '1');
  w(`${home}/device`, '', ro);
  w(`${home}/device/suspend/event-channel`, '', rw);
  w(`${home}/control`, '', ro);
  for (const k of ['shutdown', 'feature-poweroff', 'feature-reboot', 'feature-suspend', 'sysrq']) w(`${home}/control/${k}`, '', rw);
  for (const k of ['platform-feature-multiprocessor-suspend', 'platform-feature-xs_reset_watches']) w(`${home}/control/${k}`, '1');
  for (const k of ['data', 'drivers', 'feature', 'attr', 'error']) w(`${home}/${k}`, '', rw);
  const backend = `/local/domain/0/backend/console/${d}/0`;
  w(`${home}/console`, '', ro);
  for (const k of ['backend', 'backend-id', 'limit', 'type', 'output', 'tty', 'port', 'ring-ref']) w(`${home}/console/${k}`, k === 'backend' ? backend : '0');
  w(backend, '', ro);
  for (const k of ['frontend', 'frontend-id', 'online', 'state', 'protocol']) w(`${backend}/${k}`, '1');
  w(`/libxl/${d}`, '', ['n0']);
  w(`/libxl/${d}/type`, 'pvh');
}

/**
 * The toolstack's xenstore work per domain with 10,000 domains present: the home in one transaction
 * and INTRODUCE, then (for the same domains) the removal and RELEASE. µs per domain for the last 1,000
 * of each, beside the first 1,000's (cost must not grow with the number of domains).
 */
function domainHomes(): { create: number; destroy: number; detail: string } {
  const engine = new XenstoreEngine({ hooks: { introduce() {}, release() {} } });
  const xs = createXenstore({ engine, socketPath: '', attached: () => [], defer: () => () => {} });
  const N = 10_000;
  const batch = (f: (d: number) => void, from: number): number => {
    const t0 = nowMs();
    for (let d = from; d < from + 1000; d++) f(d);
    return ((nowMs() - t0) / 1000) * 1000;
  };
  const create = (d: number): void => {
    xs.dom0.transaction((tx) => writeHome(tx, d));
    xs.introduce(d, 0xfeffc, 1);
  };
  const destroy = (d: number): void => {
    xs.dom0.transaction((tx) => {
      tx.rm(`/local/domain/${d}`);
      tx.rm(`/vm/00000000-0000-0000-0000-${String(d).padStart(12, '0')}`);
      tx.rm(`/libxl/${d}`);
      tx.rm(`/local/domain/0/backend/console/${d}`);
    });
    xs.release(d);
  };
  const firstCreate = batch(create, 1);
  for (let d = 1001; d <= N - 1000; d++) create(d);
  const lastCreate = batch(create, N - 999);
  const firstDestroy = batch(destroy, 1);
  for (let d = 1001; d <= N - 1000; d++) destroy(d);
  const lastDestroy = batch(destroy, N - 999);
  return { create: lastCreate, destroy: lastDestroy, detail: `first 1,000: create ${firstCreate.toFixed(0)} µs, destroy ${firstDestroy.toFixed(0)} µs` };
}

let homes: ReturnType<typeof domainHomes> | undefined;

export const benchmarks: Benchmark[] = [
  { group: 'xenstored', name: 'READ through the message path', unit: 'M ops/s', target: { min: 1 }, run: () => ({ value: reads() / 1e6 }) },
  { group: 'xenstored', name: 'WRITE through the message path', unit: 'k ops/s', target: { min: 300 }, run: () => ({ value: writes() / 1e3 }) },
  { group: 'xenstored', name: 'walk (recursive DIRECTORY) of a 120k-node tree', unit: 'ms', target: { max: 100 }, run: () => { const w = walk(); return { value: w.ms, detail: `${w.nodes} nodes` }; } },
  { group: 'xenstored', name: 'domain home transaction + INTRODUCE at 10,000 domains', unit: 'µs/domain', run: () => { homes ??= domainHomes(); return { value: homes.create, detail: homes.detail }; } },
  { group: 'xenstored', name: 'domain home rm + RELEASE at 10,000 domains', unit: 'µs/domain', run: () => { homes ??= domainHomes(); return { value: homes.destroy, detail: homes.detail }; } },
];
