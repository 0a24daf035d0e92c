/**
 * blkfront (FreeBSD's dev/xen/blkfront): the `xbd` disk of a `device/vbd/<id>` xenbus device. It walks
 * the frontend side of the handshake (ring page granted to the backend, an unbound port offered,
 * Initialised → Connected), then turns disk reads and writes into blkif requests whose segments are
 * granted pages — kept granted and reused when the backend offers persistent grants — with indirect
 * requests for transfers larger than 11 segments when the backend takes them.
 */
import type { VcpuRequest } from '../../../../../../core/api/index.js';
import {
  BLKIF_MAX_SEGMENTS_PER_REQUEST, BLKIF_OP, BLKIF_RING_SIZE, BLKIF_RSP, BlkifRequest, BlkifRequestIndirect, BlkifResponse, BlkifSegment, PAGE_SIZE,
  SringHeader, VDISK, XenbusState, xenbusStateName,
} from '../../../../../../core/public/index.js';
import { DiskIoError, type DiskDev } from '../../../kern/disk.js';
import { tsleep } from '../../../kern/kernel.js';
import type { Pcpu } from '../../../kern/pcpu.js';
import { XenbusFrontend, type GrantedPage } from '../frontend.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

const SECTOR = 512;
const SECTORS_PER_PAGE = PAGE_SIZE / SECTOR;
/** Segments of one indirect request we build (Linux's default max_indirect_segments). */
const INDIRECT_SEGMENTS = 32;

type Page = GrantedPage;

/** A request on the ring, until its response comes. */
interface InFlight {
  done: boolean;
  status: number;
  readonly pages: Page[];
  readonly indirect: Page | undefined;
}

/** A run of sectors a transfer covers. */
interface Extent {
  readonly lba: number;
  readonly sectors: number;
}

/** One request of a transfer: where it goes on the disk, where its bytes sit in the transfer, its ring slot. */
interface Chunk extends Extent {
  readonly at: number;
  readonly slot: number;
}

export class Blkfront extends XenbusFrontend implements DiskDev {
  readonly sectorSize = SECTOR;
  sectors = 0;
  readOnly = false;
  description = 'Virtual Block Device';
  private ring: Page | undefined;
  private port = -1;
  private reqProdPvt = 0;
  private rspCons = 0;
  private readonly shadow: (InFlight | undefined)[] = new Array<InFlight | undefined>(BLKIF_RING_SIZE).fill(undefined);
  private readonly freeIds: number[] = Array.from({ length: BLKIF_RING_SIZE }, (_, i) => BLKIF_RING_SIZE - 1 - i);
  /** Responses taken off the ring so far (a waiter compares it with what it saw before sleeping). */
  private completions = 0;
  /** Free data pages: granted once and kept when the backend takes persistent grants. */
  private readonly pool: Page[] = [];
  private persistent = false;
  private flushOp: number | undefined;
  private indirectMax = 0;
  /** Scratch copies of one request slot and one indirect page, and of one response. */
  private readonly reqBytes = new Uint8Array(BlkifRequest.size);
  private readonly reqView = new DataView(this.reqBytes.buffer);
  private readonly segBytes = new Uint8Array(INDIRECT_SEGMENTS * BlkifSegment.size);
  private readonly segView = new DataView(this.segBytes.buffer);
  private readonly rspBytes = new Uint8Array(BlkifResponse.size);
  private readonly rspView = new DataView(this.rspBytes.buffer);
  /** Requests answered with an error (`sysctl dev.xbd.N.errors`). */
  errors = 0;

  /** blkfront_connect, once the backend is Connected and our keys are published. */
  protected *backendConnected(): Gen {
    if (this.state === XenbusState.Initialised) yield* this.connect();
  }

  /** setup_blkring and the keys the backend reads: ring-ref, event-channel, protocol, feature-persistent. */
  protected *talkToBackend(): Gen {
    const k = this.k;
    const xs = k.xenstore!;
    const ring = this.grantPage(false);
    const m = k.v.memory;
    m.writeU32(ring.addr + SringHeader.reqEvent, 1);
    m.writeU32(ring.addr + SringHeader.rspEvent, 1);
    this.ring = ring;
    this.port = this.bindEvents({ handle: () => this.intr() });
    yield* xs.write(`${this.nodename}/ring-ref`, String(ring.ref));
    yield* xs.write(`${this.nodename}/event-channel`, String(this.port));
    yield* xs.write(`${this.nodename}/protocol`, 'x86_64-abi');
    yield* xs.write(`${this.nodename}/feature-persistent`, '1');
    yield* this.setState(XenbusState.Initialised);
  }

  /** blkfront_connect: the disk's size and the backend's features; the disk appears. */
  private *connect(): Gen {
    const xs = this.k.xenstore!;
    const read = (key: string) => xs.read(`${this.backend}/${key}`);
    this.sectors = Number((yield* read('sectors')) ?? '0');
    const sectorSize = Number((yield* read('sector-size')) ?? '512');
    const info = Number((yield* read('info')) ?? '0');
    const flush = (yield* read('feature-flush-cache')) === '1';
    const barrier = (yield* read('feature-barrier')) === '1';
    this.persistent = (yield* read('feature-persistent')) === '1';
    this.indirectMax = Math.min(Number((yield* read('feature-max-indirect-segments')) ?? '0') || 0, INDIRECT_SEGMENTS);
    if (sectorSize !== SECTOR) {
      this.k.printf(`${this.name}: sector size ${sectorSize} is not supported`);
      yield* this.shutdown(XenbusState.Closing);
      return;
    }
    this.readOnly = (info & VDISK.readonly) !== 0;
    this.flushOp = flush ? BLKIF_OP.flushDiskcache : barrier ? BLKIF_OP.writeBarrier : undefined;
    const mb = Math.floor((this.sectors * SECTOR) / (1 << 20));
    this.k.printf(`${this.name}: ${mb}MB <${this.description}> at ${this.nodename} on ${this.dev.parent?.nameunit ?? '?'}`);
    const features = [flush ? 'flush' : '', barrier ? 'write_barrier' : '', this.persistent ? 'persistent_grants' : '', this.indirectMax > 0 ? `indirect_descriptors(${this.indirectMax})` : ''].filter((f) => f !== '');
    this.k.printf(`${this.name}: features: ${features.join(', ') || 'none'}${this.readOnly ? ', read-only' : ''}`);
    yield* this.setState(XenbusState.Connected);
    this.k.disks.push(this);
  }

  /** The backend is going: fail what is queued, release the ring, port and grants, and go Closed. */
  protected *close(backendState: number, publish = true): Gen {
    const k = this.k;
    const i = k.disks.indexOf(this);
    if (i >= 0) k.disks.splice(i, 1);
    if (publish && this.state !== XenbusState.Closing) yield* this.setState(XenbusState.Closing);
    for (let s = 0; s < this.shadow.length; s++) {
      const f = this.shadow[s];
      if (f !== undefined && !f.done) {
        f.done = true;
        f.status = BLKIF_RSP.error;
      }
    }
    this.unbindEvents();
    this.releasePages([...this.pool.splice(0), ...(this.ring ? [this.ring] : [])]);
    this.ring = undefined;
    if (publish) yield* this.setState(XenbusState.Closed);
    else this.state = XenbusState.Closed;
    k.printf(`${this.name}: detached (backend ${xenbusStateName(backendState)})`);
  }

  // --- the ring -----------------------------------------------------------------------------------

  /** The event channel's handler: takes responses off the ring. */
  private *intr(): Gen<boolean> {
    return this.service();
  }

  private service(): boolean {
    const ring = this.ring;
    if (ring === undefined) return false;
    const m = this.k.v.memory;
    let worked = false;
    for (;;) {
      const prod = m.readU32(ring.addr + SringHeader.rspProd);
      if (((prod - this.rspCons) >>> 0) > BLKIF_RING_SIZE) {
        this.k.printf(`${this.name}: bogus response indexes (rsp_prod ${prod}, rsp_cons ${this.rspCons})`);
        return worked;
      }
      while (this.rspCons !== prod) {
        m.readInto(ring.addr + SringHeader.size + (this.rspCons & (BLKIF_RING_SIZE - 1)) * BlkifRequest.size, this.rspBytes);
        const id = this.rspView.getUint32(BlkifResponse.id, true);
        const f = id < BLKIF_RING_SIZE && this.rspView.getUint32(BlkifResponse.id + 4, true) === 0 ? this.shadow[id] : undefined;
        if (f !== undefined && !f.done) {
          f.done = true;
          f.status = this.rspView.getInt16(BlkifResponse.status, true);
          this.completions++;
        }
        this.rspCons = (this.rspCons + 1) >>> 0;
        worked = true;
      }
      // RING_FINAL_CHECK_FOR_RESPONSES.
      m.writeU32(ring.addr + SringHeader.rspEvent, (this.rspCons + 1) >>> 0);
      if (m.readU32(ring.addr + SringHeader.rspProd) === this.rspCons) return worked;
    }
  }

  /** A free shadow slot, or −1 (a stack of free ids: no scan per request). */
  private freeSlot(): number {
    return this.freeIds.length > 0 ? this.freeIds[this.freeIds.length - 1]! : -1;
  }

  private releaseSlot(slot: number): void {
    this.shadow[slot] = undefined;
    this.freeIds.push(slot);
  }

  private takePage(): Page {
    return this.pool.pop() ?? this.grantPage(false);
  }

  private givePage(p: Page): void {
    if (this.persistent) {
      this.pool.push(p);
      return;
    }
    // Without persistent grants each use ends its grant; a page the backend still holds is kept out of use.
    if (this.gt.endAccess(p.ref)) this.k.phys.release(p.pfn);
  }

  /** Puts one request in the ring (the slot is free): `pages` carry `sectors` from `lba`. Built in a scratch copy, written with one access. */
  private queue(op: number, lba: number, sectors: number, pages: Page[]): number {
    const ring = this.ring!;
    const m = this.k.v.memory;
    const slot = this.freeIds.pop()!;
    const at = ring.addr + SringHeader.size + (this.reqProdPvt & (BLKIF_RING_SIZE - 1)) * BlkifRequest.size;
    const req = this.reqView;
    this.reqBytes.fill(0);
    let indirect: Page | undefined;
    let segs: DataView = req;
    let segBase: number = BlkifRequest.seg;
    if (pages.length > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
      indirect = this.takePage();
      req.setUint8(BlkifRequestIndirect.operation, BLKIF_OP.indirect);
      req.setUint8(BlkifRequestIndirect.indirectOp, op);
      req.setUint16(BlkifRequestIndirect.nrSegments, pages.length, true);
      req.setUint32(BlkifRequestIndirect.id, slot, true);
      req.setBigUint64(BlkifRequestIndirect.sectorNumber, BigInt(lba), true);
      req.setUint32(BlkifRequestIndirect.indirectGrefs, indirect.ref, true);
      segs = this.segView;
      segBase = 0;
    } else {
      req.setUint8(BlkifRequest.operation, op);
      req.setUint8(BlkifRequest.nrSegments, pages.length);
      req.setUint32(BlkifRequest.id, slot, true);
      req.setBigUint64(BlkifRequest.sectorNumber, BigInt(lba), true);
    }
    let left = sectors;
    for (let i = 0; i < pages.length; i++) {
      const n = Math.min(left, SECTORS_PER_PAGE);
      const s = segBase + i * BlkifSegment.size;
      segs.setUint32(s + BlkifSegment.gref, pages[i]!.ref, true);
      segs.setUint8(s + BlkifSegment.firstSect, 0);
      segs.setUint8(s + BlkifSegment.lastSect, n - 1);
      left -= n;
    }
    if (indirect !== undefined) m.write(indirect.addr, this.segBytes.subarray(0, pages.length * BlkifSegment.size));
    m.write(at, this.reqBytes);
    this.shadow[slot] = { done: false, status: 0, pages, indirect };
    this.reqProdPvt = (this.reqProdPvt + 1) >>> 0;
    return slot;
  }

  /** RING_PUSH_REQUESTS_AND_CHECK_NOTIFY. */
  private push(): void {
    const ring = this.ring!;
    const m = this.k.v.memory;
    const old = m.readU32(ring.addr + SringHeader.reqProd);
    const now = this.reqProdPvt;
    if (old === now) return;
    m.writeU32(ring.addr + SringHeader.reqProd, now);
    const event = m.readU32(ring.addr + SringHeader.reqEvent);
    if (((now - event) >>> 0) < ((now - old) >>> 0)) this.k.bsp.events.notify(this.port);
  }

  private connected(op: 'read' | 'write' | 'flush', lba: number): void {
    if (this.state !== XenbusState.Connected || this.ring === undefined) throw new DiskIoError(this.name, op, lba, 'device not connected');
  }

  /**
   * Issues a transfer of `extents` (each split into requests of at most the segments a request may
   * carry), up to a ring-full at a time, and waits for every response; `data` / the result hold the
   * extents' bytes one after another (a read fills `into` when given, else a fresh buffer).
   */
  private *transfer(cpu: Pcpu, op: number, extents: readonly Extent[], data: Uint8Array | undefined, into?: Uint8Array): Gen<Uint8Array> {
    const what = op === BLKIF_OP.read ? 'read' : 'write';
    const first = extents[0]?.lba ?? 0;
    this.connected(what, first);
    let total = 0;
    for (const e of extents) {
      if (!(e.lba >= 0 && e.sectors >= 0 && e.lba + e.sectors <= this.sectors)) throw new DiskIoError(this.name, what, e.lba, `sectors ${e.lba}+${e.sectors} are past the end (${this.sectors})`);
      total += e.sectors;
    }
    if (into !== undefined && into.length !== total * SECTOR) throw new DiskIoError(this.name, what, first, `a buffer of ${into.length} bytes for ${total * SECTOR}`);
    const out = into ?? new Uint8Array(total * SECTOR);
    const perRequest = (this.indirectMax > BLKIF_MAX_SEGMENTS_PER_REQUEST ? this.indirectMax : BLKIF_MAX_SEGMENTS_PER_REQUEST) * SECTORS_PER_PAGE;
    const chunks: Chunk[] = [];
    const m = this.k.v.memory;
    let failed: number | undefined;
    const reap = (c: Chunk): void => {
      const f = this.shadow[c.slot]!;
      this.releaseSlot(c.slot);
      if (f.status !== BLKIF_RSP.okay) {
        failed ??= c.lba;
        this.errors++;
      } else if (data === undefined) {
        const end = c.at + c.sectors * SECTOR;
        for (let i = 0; i < f.pages.length; i++) m.readInto(f.pages[i]!.addr, out.subarray(c.at + i * PAGE_SIZE, Math.min(end, c.at + (i + 1) * PAGE_SIZE)));
      }
      for (const p of f.pages) this.givePage(p);
      if (f.indirect !== undefined) this.givePage(f.indirect);
    };
    let at = 0;
    for (const e of extents) {
      for (let done = 0; done < e.sectors; ) {
        if (this.freeSlot() < 0) {
          this.push();
          // Ours to reap, or a slot another transfer gave back.
          yield* tsleep(cpu, () => this.freeSlot() >= 0 || chunks.some((c) => this.shadow[c.slot]?.done === true));
          const waiting = chunks.splice(0);
          for (const c of waiting) if (this.shadow[c.slot]?.done === true) reap(c);
          else chunks.push(c);
          this.connected(what, e.lba);
          continue;
        }
        const sectors = Math.min(perRequest, e.sectors - done);
        const pages: Page[] = [];
        for (let s = 0; s < sectors; s += SECTORS_PER_PAGE) {
          const p = this.takePage();
          if (data !== undefined) m.write(p.addr, data.subarray(at + s * SECTOR, at + Math.min(s + SECTORS_PER_PAGE, sectors) * SECTOR));
          pages.push(p);
        }
        chunks.push({ lba: e.lba + done, sectors, at, slot: this.queue(op, e.lba + done, sectors, pages) });
        done += sectors;
        at += sectors * SECTOR;
      }
    }
    this.push();
    // Sleep until at least as many responses came as ours still out (others' count too, so look again after).
    for (;;) {
      let outstanding = 0;
      for (const c of chunks) if (this.shadow[c.slot]?.done !== true) outstanding++;
      if (outstanding === 0 || this.ring === undefined) break;
      const target = this.completions + outstanding;
      yield* tsleep(cpu, () => this.completions >= target || this.ring === undefined);
    }
    for (const c of chunks) reap(c);
    if (failed !== undefined) throw new DiskIoError(this.name, what, failed, 'BLKIF_RSP_ERROR');
    return out;
  }

  *read(cpu: Pcpu, lba: number, count: number): Gen<Uint8Array> {
    return yield* this.transfer(cpu, BLKIF_OP.read, [{ lba, sectors: count }], undefined);
  }

  /** Reads `sectors` at each of `lbas` as separate requests, as many in flight as the ring holds (the I/O benchmark's queue depth). */
  *readv(cpu: Pcpu, lbas: readonly number[], sectors: number, into?: Uint8Array): Gen<Uint8Array> {
    return yield* this.transfer(cpu, BLKIF_OP.read, lbas.map((lba) => ({ lba, sectors })), undefined, into);
  }

  *write(cpu: Pcpu, lba: number, data: Uint8Array): Gen {
    if (data.length % SECTOR !== 0) throw new DiskIoError(this.name, 'write', lba, `${data.length} bytes is not whole sectors`);
    if (this.readOnly) throw new DiskIoError(this.name, 'write', lba, 'read-only disk');
    yield* this.transfer(cpu, BLKIF_OP.write, [{ lba, sectors: data.length / SECTOR }], data);
  }

  *flush(cpu: Pcpu): Gen {
    this.connected('flush', 0);
    if (this.flushOp === undefined) return;
    while (this.freeSlot() < 0) yield* tsleep(cpu, () => this.freeSlot() >= 0);
    const slot = this.queue(this.flushOp, 0, 0, []);
    this.push();
    yield* tsleep(cpu, () => this.shadow[slot]?.done === true);
    const f = this.shadow[slot]!;
    this.releaseSlot(slot);
    if (f.status !== BLKIF_RSP.okay) throw new DiskIoError(this.name, 'flush', 0, f.status === BLKIF_RSP.eopnotsupp ? 'BLKIF_RSP_EOPNOTSUPP' : 'BLKIF_RSP_ERROR');
  }
}
