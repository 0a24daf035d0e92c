/** A booted test host with a ConsoleDaemon on a fake xenstore, and guests that play their side of the console ring. */
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Host } from '../../../../core/host/host.js';
import { Dom0Tasks, EventChannels, createLogger, type EventChannels as EventChannelsApi, type GuestMemory as GuestMemoryApi, type MemoryLogSink } from '../../../../core/api/index.js';
import { XENCONS_IN_SIZE, XENCONS_OUT_SIZE, XenconsInterface, domId, evtchnPort, guestPhysAddr } from '../../../../core/public/index.js';
import { bootTestHost } from '../../../hypervisor/harness.js';
import { ConsoleDaemon, type ConsoleDaemonDeps } from '../../../../plugins/dom0/xenconsoled/daemon.js';
import { FakeXenstore } from './fake-xenstore.js';

/** The console page's guest frame in the tests (mapped in a 16 MiB PVH guest). */
export const GFN = 0x300;
const BASE = GFN * 4096;

/** A guest's side of the console ring: its memory, its unbound port for Dom0, and helpers to write and read. */
export class ConsoleGuest {
  readonly mem: GuestMemoryApi;
  readonly port: number;
  constructor(
    readonly host: Host,
    readonly domid: number,
  ) {
    this.mem = host.domains.lookup(domid).guestMemory;
    this.port = this.evtchn.allocUnbound(domId(domid), domId(0));
  }
  get evtchn(): EventChannelsApi {
    return this.host.container.resolve(EventChannels);
  }
  u32(off: number): number {
    return this.mem.readU32(guestPhysAddr(BASE + off));
  }
  set(off: number, v: number): void {
    this.mem.writeU32(guestPhysAddr(BASE + off), v >>> 0);
  }
  /** Sets all four indexes (free-running values need not start at 0). */
  setIndexes(value: number): void {
    for (const off of [XenconsInterface.inCons, XenconsInterface.inProd, XenconsInterface.outCons, XenconsInterface.outProd]) this.set(off, value);
  }
  /** Writes `text` at out_prod (wrapping mod 2048), bumps out_prod, and notifies unless told not to. */
  write(text: string | Uint8Array, notify = true): void {
    const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
    let prod = this.u32(XenconsInterface.outProd);
    for (const b of bytes) {
      this.mem.write(guestPhysAddr(BASE + XenconsInterface.out + (prod & (XENCONS_OUT_SIZE - 1))), new Uint8Array([b]));
      prod = (prod + 1) >>> 0;
    }
    this.set(XenconsInterface.outProd, prod);
    if (notify) this.notify();
  }
  notify(): void {
    this.evtchn.notify(domId(this.domid), evtchnPort(this.port));
  }
  /** Reads everything between in_cons and in_prod, consumes it, and notifies unless told not to. */
  readInput(notify = true): string {
    const cons = this.u32(XenconsInterface.inCons);
    const prod = this.u32(XenconsInterface.inProd);
    const out: number[] = [];
    for (let i = cons; i !== prod; i = (i + 1) >>> 0) out.push(this.mem.read(guestPhysAddr(BASE + XenconsInterface.in + (i & (XENCONS_IN_SIZE - 1))), 1)[0]!);
    this.set(XenconsInterface.inCons, prod);
    if (notify) this.notify();
    return new TextDecoder().decode(new Uint8Array(out));
  }
  pending(): boolean {
    return this.evtchn.isPending(domId(this.domid), evtchnPort(this.port));
  }
}

export interface Rig {
  host: Host;
  logs: MemoryLogSink;
  xs: FakeXenstore;
  daemon: ConsoleDaemon;
  dir: string;
  guests: ConsoleGuest[];
  evtchn: EventChannelsApi;
  /** Introduces guest `i` (domid i+1) with its console keys. */
  introduce(domid: number): ConsoleGuest;
  /** Runs the engine long enough for Dom0 to run its tasks. */
  run(ns?: number): void;
  /** Runs the engine and lets Node's I/O happen until `done()` holds. */
  until(done: () => boolean, what: string): Promise<void>;
  close(): Promise<void>;
}

/** Boots `count` guests (domids 1..count) and a started daemon; guests are not introduced yet. */
export async function rig(count = 2, extra: Partial<ConsoleDaemonDeps> = {}): Promise<Rig> {
  const { host, logs } = await bootTestHost({ guests: Array.from({ length: count }, (_, i) => ({ name: `g${i + 1}` })) });
  const dir = await mkdtemp(join(tmpdir(), 'xcons-'));
  const xs = new FakeXenstore();
  const evtchn = host.container.resolve(EventChannels);
  const daemon = new ConsoleDaemon({
    xenstore: xs,
    evtchn,
    domains: host.domains,
    tasks: host.container.resolve(Dom0Tasks),
    engine: host.engine,
    socketDir: dir,
    log: createLogger('xenconsoled', logs.sink, () => host.engine.now, 'debug'),
    ...extra,
  });
  daemon.start();
  const guests: ConsoleGuest[] = [];
  const r: Rig = {
    host,
    logs,
    xs,
    daemon,
    dir,
    guests,
    evtchn,
    introduce(domid) {
      const g = new ConsoleGuest(host, domid);
      guests[domid] = g;
      xs.introduce(domid, { ringRef: GFN, port: g.port });
      return g;
    },
    run(ns = 5e6) {
      host.runFor(ns);
    },
    async until(done, what) {
      for (let i = 0; i < 200; i++) {
        if (done()) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
        host.runFor(1e6);
      }
      throw new Error(`timed out waiting for ${what}`);
    },
    async close() {
      await daemon.dispose();
      await host.shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return r;
}

/** A client of a console socket that collects what it receives. */
export class SocketClient {
  readonly received: Buffer[] = [];
  ended = false;
  private constructor(readonly socket: Socket) {
    socket.on('data', (b: Buffer) => this.received.push(b));
    socket.on('close', () => (this.ended = true));
    socket.on('error', () => {});
  }
  static connect(path: string): Promise<SocketClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new SocketClient(s)));
      s.once('error', reject);
    });
  }
  text(): string {
    return Buffer.concat(this.received).toString('utf8');
  }
}
