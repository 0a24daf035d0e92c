/**
 * xenconsoled: finds guests through xenstore, attaches to each one's console ring, keeps its log,
 * serves its socket, and moves input and output as Dom0 work.
 */
import { join } from 'node:path';
import { GuestError, type Consoles, type Domain, type SerialConsole, type VcpuApi } from '../../../core/api/index.js';
import { domId, evtchnPort, type DomId, type EvtchnPort } from '../../../core/public/index.js';
import { WAKE_CYCLES, chargeService } from './costs.js';
import { OutputLog, streamDecoder } from './output-log.js';
import { ConsoleRing, CorruptRingError } from './ring.js';
import { GuestLogFiles } from './logfile.js';
import { SerialConsoles } from './serial.js';
import { ConsoleSocket } from './socket.js';
import { concat, decimal, errorMessage, fanOut } from './util.js';

import type { ConsoleDaemonDeps } from './deps.js';

export type { ConsoleDaemonDeps };

/** The ring of an attached console and the Dom0 port bound to the guest's. */
interface Attachment {
  readonly ring: ConsoleRing;
  readonly remotePort: number;
  readonly localPort: EvtchnPort;
  readonly unlisten: () => void;
}

/** What xenconsoled knows of one guest listed in xenstore. */
interface Console {
  readonly domid: number;
  unwatch: () => void;
  attachment: Attachment | undefined;
  socket: ConsoleSocket | undefined;
  listening: Promise<void> | undefined;
  readonly log: OutputLog;
  readonly decode: (bytes: Uint8Array) => string;
  /** Input not yet in the in ring. */
  input: Uint8Array;
  /** Set once the guest corrupted its ring: never attached again until the domain goes. */
  broken: boolean;
}

const HOME = '/local/domain';
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/**
 * The daemon. Like C xenconsoled it learns about domains from `@introduceDomain` / `@releaseDomain`,
 * watches each listed domain's `console` directory and attaches once `ring-ref` (a guest frame) and
 * `port` (the guest's unbound port offered to Dom0) are there. Every event from a guest marks it dirty
 * and queues one coalesced Dom0 task that services the dirty rings: output out of `out[]` into the log,
 * the socket clients and the listeners; waiting input into `in[]`; then a notify.
 */
export class ConsoleDaemon implements Consoles {
  private readonly consoles = new Map<number, Console>();
  private readonly listeners = new Map<number, Set<(text: string) => void>>();
  private readonly dirty = new Set<number>();
  private readonly closing = new Set<Promise<void>>();
  private taskQueued = false;
  private unwatchers: (() => void)[] = [];
  private started = false;
  private readonly logLimit: number;
  private readonly inputLimit: number;
  private readonly clientBufferLimit: number;
  private readonly serials: SerialConsoles;
  private readonly files: GuestLogFiles | undefined;
  private readonly onDying = (d: Domain): void => this.forget(d.domid, 'destroyed');
  private readonly onDestroyed = (domid: DomId): void => {
    this.forget(domid, 'destroyed');
    this.serials.forget(domid);
    this.files?.forget(domid);
  };

  constructor(private readonly deps: ConsoleDaemonDeps) {
    this.logLimit = deps.logLimit ?? 1 << 20;
    this.inputLimit = deps.inputLimit ?? 1 << 16;
    this.clientBufferLimit = deps.clientBufferLimit ?? 1 << 20;
    this.files = deps.logDir === undefined ? undefined : new GuestLogFiles(deps.logDir, (domid) => deps.domains.get(domid)?.name, deps.log);
    this.serials = new SerialConsoles({
      socketDir: deps.socketDir,
      engine: deps.engine,
      log: deps.log,
      logLimit: this.logLimit,
      clientBufferLimit: this.clientBufferLimit,
      listeners: (domid) => this.listeners.get(domid) ?? [],
      tee: (domid, bytes) => this.files?.append(domid, bytes),
    });
  }

  /** Watches `@introduceDomain` and `@releaseDomain` (each fires once at once: existing domains are found). */
  start(): void {
    if (this.started) return;
    this.started = true;
    const { xenstore, domains } = this.deps;
    domains.events.on('dying', this.onDying);
    domains.events.on('destroyed', this.onDestroyed);
    this.unwatchers = [xenstore.watch('@introduceDomain', () => this.scan()), xenstore.watch('@releaseDomain', () => this.scan())];
  }

  /** Detaches every console and waits for the sockets to close. */
  async dispose(): Promise<void> {
    if (this.started) {
      for (const unwatch of this.unwatchers.splice(0)) unwatch();
      this.deps.domains.events.off('dying', this.onDying);
      this.deps.domains.events.off('destroyed', this.onDestroyed);
      this.started = false;
    }
    for (const domid of [...this.consoles.keys()]) this.forget(domid, 'xenconsoled stopping');
    this.listeners.clear();
    await this.serials.dispose();
    await this.settled();
  }

  /** Resolves once every socket being closed has closed. */
  async settled(): Promise<void> {
    while (this.closing.size > 0) await Promise.all([...this.closing]);
  }

  // --- Consoles -----------------------------------------------------------------------------------

  attached(): number[] {
    const ring = [...this.consoles.values()].filter((c) => c.attachment !== undefined).map((c) => c.domid);
    return [...new Set([...ring, ...this.serials.domains()])].sort((a, b) => a - b);
  }

  socketPath(domid: number): string | undefined {
    const serial = this.serials.socketPath(domid);
    if (serial !== undefined) return serial;
    const c = this.consoles.get(domid);
    return c?.attachment !== undefined ? c.socket?.path : undefined;
  }

  log(domid: number): string {
    return this.serials.log(domid) ?? this.consoles.get(domid)?.log.text() ?? '';
  }

  onOutput(domid: number, fn: (text: string) => void): () => void {
    let set = this.listeners.get(domid);
    if (set === undefined) this.listeners.set(domid, (set = new Set()));
    const entry = (text: string): void => fn(text);
    set.add(entry);
    return () => {
      const s = this.listeners.get(domid);
      if (s === undefined) return;
      s.delete(entry);
      if (s.size === 0) this.listeners.delete(domid);
    };
  }

  input(domid: number, text: string): void {
    if (this.serials.has(domid)) return this.serials.type(domid, text);
    const c = this.consoles.get(domid);
    if (c?.attachment === undefined) throw new GuestError('ENOENT', `xenconsoled: dom${domid} has no console attached`, { domid });
    this.queueInput(c, encoder.encode(text));
  }

  attachSerial(domid: number): SerialConsole {
    return this.serials.attach(domid);
  }

  // --- Beyond the contract: tests and the host's wiring. -----------------------------------------

  /** The PV console ring's log, when a serial console wins `log()`. */
  ringLog(domid: number): string {
    return this.consoles.get(domid)?.log.text() ?? '';
  }

  /** Resolves once `domid`'s socket listens (at once when not attached). */
  async whenListening(domid: number): Promise<void> {
    await this.consoles.get(domid)?.listening;
    await this.serials.whenListening(domid);
  }

  /** The Dom0 port bound to the guest's console port, while attached. */
  localPort(domid: number): EvtchnPort | undefined {
    return this.consoles.get(domid)?.attachment?.localPort;
  }

  /** Clients connected to `domid`'s socket. */
  clients(domid: number): number {
    return this.consoles.get(domid)?.socket?.connections ?? 0;
  }

  /** Bytes of input waiting for room in `domid`'s in ring. */
  pendingInput(domid: number): number {
    return this.consoles.get(domid)?.input.length ?? 0;
  }

  /** Domains xenconsoled tracks (attached, waiting for their console keys, or broken). */
  tracked(): number[] {
    return [...this.consoles.keys()].sort((a, b) => a - b);
  }

  // --- Discovery -----------------------------------------------------------------------------------

  private alive(domid: number): boolean {
    const d = this.deps.domains.get(domid);
    return d !== undefined && d.state !== 'dying' && d.state !== 'dead';
  }

  /** C xenconsoled's enum_domains: track every listed live guest, forget those gone. */
  private scan(): void {
    const listed = new Set<number>();
    for (const name of this.deps.xenstore.directory(HOME) ?? []) {
      const domid = decimal(name);
      if (domid !== undefined && domid !== 0) listed.add(domid);
    }
    for (const domid of [...this.consoles.keys()]) if (!listed.has(domid) || !this.alive(domid)) this.forget(domid, 'released');
    for (const domid of [...listed].sort((a, b) => a - b)) if (!this.consoles.has(domid) && this.alive(domid)) this.track(domid);
  }

  private track(domid: number): void {
    const c: Console = {
      domid,
      unwatch: () => {},
      attachment: undefined,
      socket: undefined,
      listening: undefined,
      log: new OutputLog(this.logLimit),
      decode: streamDecoder(),
      input: EMPTY,
      broken: false,
    };
    this.consoles.set(domid, c);
    const unwatch = this.deps.xenstore.watch(`${HOME}/${domid}/console`, () => this.refresh(domid));
    if (this.consoles.get(domid) === c) c.unwatch = unwatch;
    else unwatch();
  }

  /** The domain's console keys changed (or its watch was just set): attach, or re-attach to a new ring. */
  private refresh(domid: number): void {
    const c = this.consoles.get(domid);
    if (c === undefined || c.broken || !this.alive(domid)) return;
    const gfn = decimal(this.deps.xenstore.read(`${HOME}/${domid}/console/ring-ref`));
    const port = decimal(this.deps.xenstore.read(`${HOME}/${domid}/console/port`));
    if (gfn === undefined || port === undefined) return;
    const a = c.attachment;
    if (a !== undefined) {
      if (a.ring.gfn === gfn && a.remotePort === port) return;
      this.unbind(c);
    }
    this.attach(c, gfn, port);
  }

  private attach(c: Console, gfn: number, port: number): void {
    const { domid } = c;
    const { evtchn, domains } = this.deps;
    let attachment: Attachment;
    try {
      const ring = new ConsoleRing(domains.lookup(domid).guestMemory, gfn);
      ring.probe();
      const localPort = evtchn.bindInterdomain(domId(0), domId(domid), evtchnPort(port));
      let unlisten: () => void;
      try {
        unlisten = evtchn.onEvent(domId(0), localPort, () => this.kick(domid));
      } catch (error) {
        evtchn.close(domId(0), localPort);
        throw error;
      }
      attachment = { ring, remotePort: port, localPort, unlisten };
    } catch (error) {
      this.deps.log.warn(`dom${domid}: cannot attach the console (ring-ref ${gfn}, port ${port}): ${errorMessage(error)}`);
      return;
    }
    c.attachment = attachment;
    if (c.socket === undefined) this.openSocket(c);
    try {
      this.deps.xenstore.write(`${HOME}/${domid}/console/tty`, c.socket!.path);
    } catch (error) {
      this.deps.log.warn(`dom${domid}: cannot write console/tty: ${errorMessage(error)}`);
    }
    this.deps.log.info(`dom${domid}: console attached (ring-ref ${gfn}, port ${port}, dom0 port ${attachment.localPort})`);
    // Output the guest wrote before we came: read it now, as xenconsoled does on attach.
    this.kick(domid);
  }

  private openSocket(c: Console): void {
    const { domid } = c;
    const socket = new ConsoleSocket({
      path: join(this.deps.socketDir, `${domid}.sock`),
      clientBufferLimit: this.clientBufferLimit,
      log: this.deps.log,
      onInput: (bytes) => {
        this.deps.engine.external(() => {
          const now = this.consoles.get(domid);
          if (now === c && c.attachment !== undefined) this.queueInput(c, bytes);
        });
      },
    });
    c.socket = socket;
    c.listening = socket.listen().catch((error: unknown) => {
      this.deps.log.error(`dom${domid}: console socket ${socket.path}: ${errorMessage(error)}`);
    });
  }

  /** Stops listening to the guest's ring (the socket and log stay). */
  private unbind(c: Console): void {
    const a = c.attachment;
    if (a === undefined) return;
    c.attachment = undefined;
    this.dirty.delete(c.domid);
    a.unlisten();
    try {
      this.deps.evtchn.close(domId(0), a.localPort);
    } catch {
      // The domain's death closed the channel already.
    }
  }

  private closeSocket(c: Console): void {
    const socket = c.socket;
    if (socket === undefined) return;
    c.socket = undefined;
    const done = (c.listening ?? Promise.resolve())
      .then(() => socket.close())
      .catch((error: unknown) => this.deps.log.warn(`dom${c.domid}: closing ${socket.path}: ${errorMessage(error)}`))
      .finally(() => this.closing.delete(done));
    this.closing.add(done);
  }

  /** The domain went (or xenconsoled stops): unbind, close the socket, drop everything kept for it. */
  private forget(domid: number, why: string): void {
    const c = this.consoles.get(domid);
    if (c === undefined) return;
    this.consoles.delete(domid);
    c.unwatch();
    const was = c.attachment !== undefined;
    this.unbind(c);
    this.closeSocket(c);
    c.input = EMPTY;
    if (was) this.deps.log.info(`dom${domid}: console detached (${why})`);
  }

  /** The guest broke its ring: detach it for good (until the domain goes); the log stays readable. */
  private disconnect(c: Console, reason: string): void {
    c.broken = true;
    c.input = EMPTY;
    this.unbind(c);
    this.closeSocket(c);
    this.deps.log.warn(`dom${c.domid}: console disconnected: ${reason}`);
  }

  // --- The ring work, as Dom0 tasks -----------------------------------------------------------------

  private queueInput(c: Console, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const room = this.inputLimit - c.input.length;
    if (room < bytes.length) this.deps.log.warn(`dom${c.domid}: console input beyond ${this.inputLimit} waiting bytes dropped (${bytes.length - Math.max(room, 0)} bytes)`);
    if (room <= 0) return;
    c.input = concat(c.input, bytes.length > room ? bytes.subarray(0, room) : bytes);
    this.kick(c.domid);
  }

  /** Marks the domain's ring for service and queues the daemon's task unless it is queued already. */
  private kick(domid: number): void {
    this.dirty.add(domid);
    if (this.taskQueued) return;
    this.taskQueued = true;
    const job = this.deps.tasks.submit('xenconsoled', (v) => this.serviceTask(v));
    job.onSettled((j) => {
      if (j.error) this.deps.log.error(`service task failed: ${j.error.message}`);
    });
  }

  private *serviceTask(v: VcpuApi): Generator<never, void, unknown> {
    this.taskQueued = false;
    v.compute(WAKE_CYCLES);
    const domids = [...this.dirty].sort((a, b) => a - b);
    this.dirty.clear();
    for (const domid of domids) {
      const c = this.consoles.get(domid);
      if (c?.attachment !== undefined) this.service(c, c.attachment, v);
    }
  }

  /** One ring: output out, input in, one notify if either moved. */
  private service(c: Console, a: Attachment, v: VcpuApi): void {
    let moved = 0;
    let writes = 0;
    let notify = false;
    try {
      const out = a.ring.readOut();
      if (out.length > 0) {
        moved += out.length;
        notify = true;
        writes += this.deliver(c, out);
      }
      if (c.input.length > 0) {
        const n = a.ring.writeIn(c.input);
        if (n > 0) {
          moved += n;
          notify = true;
          c.input = n === c.input.length ? EMPTY : c.input.slice(n);
        }
      }
    } catch (error) {
      chargeService(v, moved, writes, 0);
      const reason = error instanceof CorruptRingError ? `corrupt ring indexes: ${error.message}` : `ring access failed: ${errorMessage(error)}`;
      this.disconnect(c, reason);
      return;
    }
    if (notify) {
      try {
        this.deps.evtchn.notify(domId(0), a.localPort);
      } catch (error) {
        this.deps.log.debug(`dom${c.domid}: notify failed: ${errorMessage(error)}`);
      }
    }
    chargeService(v, moved, writes, notify ? 1 : 0);
  }

  /** Output to the log, the socket's clients and the listeners; returns the client writes made. */
  private deliver(c: Console, bytes: Uint8Array): number {
    c.log.append(bytes);
    if (!this.serials.has(c.domid)) this.files?.append(c.domid, bytes); // else the serial's output is teed there
    const clients = c.socket?.connections ?? 0;
    c.socket?.send(bytes);
    // A serial console wins: its output, not the ring's, goes to the listeners.
    const set = this.serials.has(c.domid) ? undefined : this.listeners.get(c.domid);
    const text = c.decode(bytes);
    if (set !== undefined && text.length > 0) fanOut(set, text, this.deps.log, `dom${c.domid}: console output listener`);
    return clients;
  }
}
