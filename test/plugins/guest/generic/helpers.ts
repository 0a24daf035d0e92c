/**
 * A host with xenstored, the toolstack and the generic kernel, and a test console backend that plays
 * xenconsoled's part on the console ring: it binds Dom0 to the guest's console port, takes `out` on
 * every notify and types into `in`.
 */
import { resolveHostDefinition } from '../../../../core/config/host.js';
import { Host } from '../../../../core/host/host.js';
import { MemoryLogSink } from '../../../../core/api/log.js';
import { EventChannels, Xenstore, type Domain, type ShutdownReason } from '../../../../core/api/index.js';
import { XENCONS_IN_SIZE, XENCONS_OUT_SIZE, XenconsInterface, domId, evtchnPort, guestPhysAddr } from '../../../../core/public/index.js';
import { treeCatalog } from '../../../../plugins/catalog.js';
import { coreFeaturesOf } from '../../../../core/cli/machine.js';

export interface GuestSpec {
  name: string;
  type: 'pv' | 'pvh';
  memory?: number;
  cmdline?: string;
  /** Kernel name (a config/kernels ident, lower-cased); `generic` by default. */
  kernel?: string;
  vcpus?: number;
}

/** Boots the host; its guests are built by the toolstack (domids 1, 2, ...). */
export async function bootHost(guests: GuestSpec[], pluginOptions: Record<string, unknown> = {}): Promise<{ host: Host; logs: MemoryLogSink }> {
  const definition = {
    name: 'generic-test',
    seed: 1,
    cpus: 2,
    memory: '1024MiB',
    dom0: { memory: '64MiB', vcpus: 1 },
    plugins: ['credit', 'xenstored', 'toolstack', 'pv', 'pvh', Object.keys(pluginOptions).length ? { name: 'generic-kernel', options: pluginOptions } : 'generic-kernel'],
    domains: guests.map((g) => ({ name: g.name, type: g.type, kernel: g.kernel ?? 'generic', memory: g.memory ?? 16, vcpus: g.vcpus ?? 1, ...(g.cmdline ? { cmdline: g.cmdline } : {}) })),
  };
  const r = resolveHostDefinition(definition, { file: 'test.yaml', loadDomainFile: () => ({ errors: [], warnings: [] }) });
  if (!r.host) throw new Error(r.errors.map((e) => e.message).join('\n'));
  const logs = new MemoryLogSink();
  const host = await Host.boot(r.host, { catalog: treeCatalog, coreFeatures: await coreFeaturesOf(treeCatalog), logSink: logs.sink, logLevel: 'debug' });
  return { host, logs };
}

/** Runs virtual time in 1 ms steps until `done()` or `limitNs` passed; returns whether `done()` held. */
export function runUntil(host: Host, done: () => boolean, limitNs = 2e9): boolean {
  const until = host.engine.now + limitNs;
  while (!done()) {
    if (host.engine.now >= until) return false;
    host.runFor(1e6);
  }
  return true;
}

/** The toolstack's record of the domain named `name`. */
export function record(host: Host, name: string) {
  const r = host.toolstack?.list().find((d) => d.name === name);
  if (!r) throw new Error(`no domain ${name}`);
  return r;
}

/** Records every domain's shutdown with its reason. */
export function watchShutdowns(host: Host): { domid: number; reason: ShutdownReason | undefined }[] {
  const seen: { domid: number; reason: ShutdownReason | undefined }[] = [];
  host.domains.events.on('stateChanged', (d: Domain, _from, to) => {
    if (to === 'shutdown') seen.push({ domid: d.domid, reason: d.shutdownReason });
  });
  return seen;
}

/** The backend side of one guest's console ring. */
export class ConsoleBackend {
  /** Everything the guest wrote, as text. */
  output = '';
  private readonly mem;
  private readonly base: number;
  private readonly local: number;
  private readonly evtchn;
  /** When set, takes at most this many bytes per notification. */
  chunk = Infinity;
  /** While false, `out` is left alone (a backend that is not there yet). */
  reading = true;
  /** While false, taking output is not notified: the guest learns of the room only when it looks again. */
  notifying = true;
  private again = false;
  private readonly engine;

  constructor(
    host: Host,
    readonly domid: number,
    gfn: number,
    port: number,
  ) {
    this.mem = host.domains.lookup(domid).guestMemory;
    this.base = gfn * 4096;
    this.evtchn = host.container.resolve(EventChannels);
    this.engine = host.engine;
    this.local = this.evtchn.bindInterdomain(domId(0), domId(domid), evtchnPort(port));
    this.evtchn.onEvent(domId(0), evtchnPort(this.local), () => this.drain());
    this.drain();
  }

  static attach(host: Host, name: string): ConsoleBackend {
    const r = record(host, name);
    return new ConsoleBackend(host, r.domid, r.console.gfn, r.console.port);
  }

  private u32(off: number): number {
    return this.mem.readU32(guestPhysAddr(this.base + off));
  }

  private set(off: number, value: number): void {
    this.mem.writeU32(guestPhysAddr(this.base + off), value >>> 0);
  }

  /**
   * Takes what is in `out` (at most `chunk` bytes) and tells the guest there is room; with more left,
   * reads again 10 µs later, as a backend that reads in small pieces still drains everything.
   */
  drain(): void {
    if (!this.reading) return;
    let cons = this.u32(XenconsInterface.outCons);
    const prod = this.u32(XenconsInterface.outProd);
    const bytes: number[] = [];
    while (cons !== prod && bytes.length < this.chunk) {
      bytes.push(this.mem.read(guestPhysAddr(this.base + XenconsInterface.out + (cons & (XENCONS_OUT_SIZE - 1))), 1)[0]!);
      cons = (cons + 1) >>> 0;
    }
    if (bytes.length === 0) return;
    this.output += Buffer.from(bytes).toString('latin1');
    this.set(XenconsInterface.outCons, cons);
    if (this.notifying) this.evtchn.notify(domId(0), evtchnPort(this.local));
    if (cons !== prod && !this.again) {
      this.again = true;
      this.engine.at(this.engine.now + 10_000, () => {
        this.again = false;
        this.drain();
      });
    }
  }

  /** Puts `text` into `in` and notifies. */
  type(text: string): void {
    let prod = this.u32(XenconsInterface.inProd);
    for (const b of Buffer.from(text, 'latin1')) {
      this.mem.write(guestPhysAddr(this.base + XenconsInterface.in + (prod & (XENCONS_IN_SIZE - 1))), new Uint8Array([b]));
      prod = (prod + 1) >>> 0;
    }
    this.set(XenconsInterface.inProd, prod);
    this.evtchn.notify(domId(0), evtchnPort(this.local));
  }

  /** Output since `mark` (an earlier `output.length`). */
  since(mark: number): string {
    return this.output.slice(mark);
  }
}

/** Dom0's xenstore client. */
export function dom0Store(host: Host) {
  return host.plugins.resolveAll(Xenstore)[0]!.dom0;
}
