/**
 * The xenstore client (FreeBSD's dev/xen/xenstore/xenstore.c) over the shared ring page: requests
 * carry a request id and wait for the reply with that id; watch events are queued apart for their owners.
 */
import type { VcpuApi, VcpuRequest } from '../../../../../../core/api/index.js';
import type { RingLocation } from '../../../boot/init-ops.js';
import type { EventWaiter } from '../evtchn.js';
import { XENSTORE_PAYLOAD_MAX, XENSTORE_RING_SIZE, XenstoreDomainInterface as XS, XsType, XsdSockmsg, type XsTypeName } from './xs_wire.js';

/** A request xenstored refused: the operation, its path and the error name it sent (ENOENT, EACCES...). */
export class XenstoreError extends Error {
  constructor(
    readonly op: XsTypeName,
    readonly path: string,
    readonly errno: string,
  ) {
    super(`xenstore ${op} ${path}: ${errno}`);
    this.name = 'XenstoreError';
  }
}

/** A WATCH_EVENT: the path that changed and the token of the watch. */
export interface WatchEvent {
  readonly path: string;
  readonly token: string;
}

interface Reply {
  readonly type: number;
  readonly payload: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MASK = XENSTORE_RING_SIZE - 1;

export class Xenstore {
  private nextReqId = 1;
  private readonly replies = new Map<number, Reply>();
  private readonly watchQueue: WatchEvent[] = [];
  private rx = new Uint8Array(0);
  /** Requests sent, replies and watch events received. */
  readonly stats = { requests: 0, replies: 0, watchEvents: 0 };
  /** Called whenever {@link pendingWatchEvents} changed (the driver makes its handler due while events wait). */
  onWatchQueue: (() => void) | undefined = undefined;

  constructor(
    private readonly v: VcpuApi,
    private readonly events: EventWaiter,
    readonly ring: RingLocation,
  ) {}

  get port(): number {
    return this.ring.port;
  }

  /** Watch events received and not yet taken. */
  get pendingWatchEvents(): number {
    return this.watchQueue.length;
  }

  /** Takes the oldest queued watch event. */
  nextWatchEvent(): WatchEvent | undefined {
    const event = this.watchQueue.shift();
    if (event !== undefined) this.onWatchQueue?.();
    return event;
  }

  /** Drains `rsp` into replies and watch events; true when anything arrived. */
  service(): boolean {
    const m = this.v.memory;
    const base = this.ring.addr;
    let cons = m.readU32(base + XS.rspCons);
    const prod = m.readU32(base + XS.rspProd);
    const n = (prod - cons) >>> 0;
    if (n === 0) return false;
    if (n > XENSTORE_RING_SIZE) throw new Error(`xenstore: bad response indexes (cons ${cons}, prod ${prod})`);
    const next = new Uint8Array(this.rx.length + n);
    next.set(this.rx);
    let done = 0;
    while (done < n) {
      const at = cons & MASK;
      const chunk = Math.min(n - done, XENSTORE_RING_SIZE - at);
      m.readInto(base + XS.rsp + at, next.subarray(this.rx.length + done, this.rx.length + done + chunk));
      done += chunk;
      cons = (cons + chunk) >>> 0;
    }
    m.writeU32(base + XS.rspCons, cons);
    this.events.notify(this.ring.port);
    this.rx = next;
    this.parse();
    return true;
  }

  private parse(): void {
    while (this.rx.length >= XsdSockmsg.size) {
      const view = new DataView(this.rx.buffer, this.rx.byteOffset, this.rx.byteLength);
      const type = view.getUint32(XsdSockmsg.type, true);
      const reqId = view.getUint32(XsdSockmsg.reqId, true);
      const len = view.getUint32(XsdSockmsg.len, true);
      if (len > XENSTORE_PAYLOAD_MAX) throw new Error(`xenstore: reply of ${len} bytes is past the ${XENSTORE_PAYLOAD_MAX}-byte limit`);
      if (this.rx.length < XsdSockmsg.size + len) return;
      const payload = this.rx.slice(XsdSockmsg.size, XsdSockmsg.size + len);
      this.rx = this.rx.slice(XsdSockmsg.size + len);
      if (type === XsType.WATCH_EVENT) {
        const [path = '', token = ''] = decoder.decode(payload).split('\0');
        this.watchQueue.push({ path, token });
        this.stats.watchEvents++;
        this.onWatchQueue?.();
      } else {
        this.replies.set(reqId, { type, payload });
        this.stats.replies++;
      }
    }
  }

  /** Sends one message and waits for its reply; ERROR replies throw {@link XenstoreError}. */
  *request(op: XsTypeName, path: string, payload: Uint8Array): Generator<VcpuRequest, Uint8Array, unknown> {
    if (payload.length > XENSTORE_PAYLOAD_MAX) throw new Error(`xenstore ${op} ${path}: ${payload.length} bytes is past the payload limit`);
    const reqId = this.nextReqId;
    this.nextReqId = (this.nextReqId % 0xffff_fffe) + 1;
    const msg = new Uint8Array(XsdSockmsg.size + payload.length);
    const view = new DataView(msg.buffer);
    view.setUint32(XsdSockmsg.type, XsType[op], true);
    view.setUint32(XsdSockmsg.reqId, reqId, true);
    view.setUint32(XsdSockmsg.txId, 0, true);
    view.setUint32(XsdSockmsg.len, payload.length, true);
    msg.set(payload, XsdSockmsg.size);
    yield* this.send(msg);
    this.stats.requests++;
    for (;;) {
      this.events.consume(this.ring.port);
      this.service();
      const reply = this.replies.get(reqId);
      if (reply !== undefined) {
        this.replies.delete(reqId);
        if (reply.type === XsType.ERROR) throw new XenstoreError(op, path, decoder.decode(reply.payload).replace(/\0+$/, ''));
        return reply.payload;
      }
      yield* this.events.wait([this.ring.port], 0);
    }
  }

  /** Copies `msg` into `req`, waiting for xenstored to make room when the ring is full. */
  private *send(msg: Uint8Array): Generator<VcpuRequest, void, unknown> {
    const m = this.v.memory;
    const base = this.ring.addr;
    let done = 0;
    while (done < msg.length) {
      this.events.consume(this.ring.port);
      const cons = m.readU32(base + XS.reqCons);
      let prod = m.readU32(base + XS.reqProd);
      const used = (prod - cons) >>> 0;
      if (used > XENSTORE_RING_SIZE) throw new Error(`xenstore: bad request indexes (cons ${cons}, prod ${prod})`);
      const room = XENSTORE_RING_SIZE - used;
      if (room === 0) {
        this.service();
        yield* this.events.wait([this.ring.port], 0);
        continue;
      }
      const n = Math.min(room, msg.length - done);
      let copied = 0;
      while (copied < n) {
        const at = prod & MASK;
        const chunk = Math.min(n - copied, XENSTORE_RING_SIZE - at);
        m.write(base + XS.req + at, msg.subarray(done + copied, done + copied + chunk));
        copied += chunk;
        prod = (prod + chunk) >>> 0;
      }
      m.writeU32(base + XS.reqProd, prod);
      this.events.notify(this.ring.port);
      done += n;
    }
  }

  /** XS_READ: the value, or undefined when the node does not exist. */
  *read(path: string): Generator<VcpuRequest, string | undefined, unknown> {
    try {
      return decoder.decode(yield* this.request('READ', path, cstr(path)));
    } catch (error) {
      if (error instanceof XenstoreError && error.errno === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** XS_WRITE (the value is not NUL-terminated on the wire). */
  *write(path: string, value: string): Generator<VcpuRequest, void, unknown> {
    const p = cstr(path);
    const v = encoder.encode(value);
    const payload = new Uint8Array(p.length + v.length);
    payload.set(p);
    payload.set(v, p.length);
    yield* this.request('WRITE', path, payload);
  }

  /** XS_DIRECTORY: child names, or undefined when the node does not exist. */
  *directory(path: string): Generator<VcpuRequest, string[] | undefined, unknown> {
    try {
      return splitStrings(yield* this.request('DIRECTORY', path, cstr(path)));
    } catch (error) {
      if (error instanceof XenstoreError && error.errno === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** XS_WATCH: events for `path` and below arrive with `token` (and one at once, as xenstored sends). */
  *watch(path: string, token: string): Generator<VcpuRequest, void, unknown> {
    yield* this.request('WATCH', path, concat(cstr(path), cstr(token)));
  }

  /** XS_UNWATCH. */
  *unwatch(path: string, token: string): Generator<VcpuRequest, void, unknown> {
    yield* this.request('UNWATCH', path, concat(cstr(path), cstr(token)));
  }
}

function cstr(s: string): Uint8Array {
  return concat(encoder.encode(s), new Uint8Array(1));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** NUL-terminated strings, one after another. */
function splitStrings(payload: Uint8Array): string[] {
  const text = decoder.decode(payload);
  if (text === '') return [];
  return text.replace(/\0$/, '').split('\0');
}
