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
import { tsleep } from '../../../kern/kern_intr.js';
import type { Pcpu } from '../../../kern/pcpu.js';
import { XenbusFrontend, type GrantedPage } from '../frontend.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

const SECTOR = 512;
const SECTORS_PER_PAGE = PAGE_SIZE / SECTOR;
/** Segments of one indirect request we build (Linux's default max_indirect_segments). */
const INDIRECT_SEGMENTS = 32;

type Page = GrantedPage;

/** A ring slot's request, from {@link Blkfront.queue} until its response is reaped (one record per slot, reused). */
interface InFlight {
  done: boolean;
  status: number;
  /** The data pages: the first `nPages` of `pages`. */
  readonly pages: Page[];
  nPages: number;
  indirect: Page | undefined;
  /** Where the request's bytes sit in its transfer's buffer, and how many sectors it carries. */
  at: number;
  sectors: number;
  lba: number;
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
  private readonly records: InFlight[] = Array.from({ length: BLKIF_RING_SIZE }, () => ({ done: false, status: 0, pages: [], nPages: 0, indirect: undefined, at: 0, sectors: 0, lba: 0 }));
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
  /** The shape of the last request built in `reqBytes` (what it set). */
  private lastIndirect = false;
  private lastSegments = 0;
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

  /** Takes a free slot (there is one) and readies its record for {@link queue}: no pages yet. */
  private claimSlot(lba: number, sectors: number, at: number): number {
    const slot = this.freeIds.pop()!;
    const f = this.records[slot]!;
    f.done = false;
    f.status = 0;
    f.nPages = 0;
    f.indirect = undefined;
    f.lba = lba;
    f.sectors = sectors;
    f.at = at;
    return slot;
  }

  /** Puts `slot`'s request in the ring: its pages carry its sectors. Built in a scratch copy, written with one access. */
  private queue(slot: number, op: number): void {
    const ring = this.ring!;
    const m = this.k.v.memory;
    const f = this.records[slot]!;
    const n = f.nPages;
    const at = ring.addr + SringHeader.size + (this.reqProdPvt & (BLKIF_RING_SIZE - 1)) * BlkifRequest.size;
    const req = this.reqView;
    // Bytes a request does not set are 0: clear the scratch when the last request set bytes this one does not.
    const indirect = n > BLKIF_MAX_SEGMENTS_PER_REQUEST;
    if (indirect !== this.lastIndirect || (!indirect && n < this.lastSegments)) this.reqBytes.fill(0);
    this.lastIndirect = indirect;
    this.lastSegments = n;
    let segs: DataView = req;
    let segBase: number = BlkifRequest.seg;
    // The u64 sector number as two u32 halves (sector numbers stay below 2^53).
    const lbaHi = Math.floor(f.lba / 2 ** 32);
    const lbaLo = f.lba - lbaHi * 2 ** 32;
    if (indirect) {
      const page = this.takePage();
      f.indirect = page;
      req.setUint8(BlkifRequestIndirect.operation, BLKIF_OP.indirect);
      req.setUint8(BlkifRequestIndirect.indirectOp, op);
      req.setUint16(BlkifRequestIndirect.nrSegments, n, true);
      req.setUint32(BlkifRequestIndirect.id, slot, true);
      req.setUint32(BlkifRequestIndirect.sectorNumber, lbaLo, true);
      req.setUint32(BlkifRequestIndirect.sectorNumber + 4, lbaHi, true);
      req.setUint32(BlkifRequestIndirect.indirectGrefs, page.ref, true);
      segs = this.segView;
      segBase = 0;
    } else {
      req.setUint8(BlkifRequest.operation, op);
      req.setUint8(BlkifRequest.nrSegments, n);
      req.setUint32(BlkifRequest.id, slot, true);
      req.setUint32(BlkifRequest.sectorNumber, lbaLo, true);
      req.setUint32(BlkifRequest.sectorNumber + 4, lbaHi, true);
    }
    let left = f.sectors;
    for (let i = 0; i < n; i++) {
      const sectors = Math.min(left, SECTORS_PER_PAGE);
      const s = segBase + i * BlkifSegment.size;
      segs.setUint32(s + BlkifSegment.gref, f.pages[i]!.ref, true);
      segs.setUint8(s + BlkifSegment.firstSect, 0);
      segs.setUint8(s + BlkifSegment.lastSect, sectors - 1);
      left -= sectors;
    }
    if (f.indirect !== undefined) m.write(f.indirect.addr, this.segBytes.subarray(0, n * BlkifSegment.size));
    m.write(at, this.reqBytes);
    this.shadow[slot] = f;
    this.reqProdPvt = (this.reqProdPvt + 1) >>> 0;
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
   * Frees the answered request in `slot` and its pages, a read's bytes copied into `out` first; returns its
   * first sector when it failed.
   */
  private reap(slot: number, out: Uint8Array | undefined): number | undefined {
    const f = this.shadow[slot]!;
    this.releaseSlot(slot);
    let failed: number | undefined;
    if (f.status !== BLKIF_RSP.okay) {
      failed = f.lba;
      this.errors++;
    } else if (out !== undefined) {
      const m = this.k.v.memory;
      const end = f.at + f.sectors * SECTOR;
      for (let i = 0; i < f.nPages; i++) m.readInto(f.pages[i]!.addr, out.subarray(f.at + i * PAGE_SIZE, Math.min(end, f.at + (i + 1) * PAGE_SIZE)));
    }
    for (let i = 0; i < f.nPages; i++) this.givePage(f.pages[i]!);
    if (f.indirect !== undefined) this.givePage(f.indirect);
    return failed;
  }

  /** Whether any of `slots` has its response. */
  private anyDone(slots: readonly number[]): boolean {
    for (let i = 0; i < slots.length; i++) if (this.shadow[slots[i]!]?.done === true) return true;
    return false;
  }

  /**
   * Issues a transfer of the extents `lbas[i]` + `counts` (one count for all, or one each), each split
   * into requests of at most the segments a request may carry, up to a ring-full at a time, and waits
   * for every response; `data` / the result hold the extents' bytes one after another (a read fills
   * `into` when given, else a fresh buffer).
   */
  private *transfer(cpu: Pcpu, op: number, lbas: readonly number[], counts: number | readonly number[], data: Uint8Array | undefined, into?: Uint8Array): Gen<Uint8Array> {
    const what = op === BLKIF_OP.read ? 'read' : 'write';
    const first = lbas[0] ?? 0;
    this.connected(what, first);
    let total = 0;
    for (let e = 0; e < lbas.length; e++) {
      const lba = lbas[e]!;
      const sectors = typeof counts === 'number' ? counts : counts[e]!;
      if (!(lba >= 0 && sectors >= 0 && lba + sectors <= this.sectors)) throw new DiskIoError(this.name, what, lba, `sectors ${lba}+${sectors} are past the end (${this.sectors})`);
      total += sectors;
    }
    if (into !== undefined && into.length !== total * SECTOR) throw new DiskIoError(this.name, what, first, `a buffer of ${into.length} bytes for ${total * SECTOR}`);
    const out = into ?? new Uint8Array(total * SECTOR);
    const perRequest = (this.indirectMax > BLKIF_MAX_SEGMENTS_PER_REQUEST ? this.indirectMax : BLKIF_MAX_SEGMENTS_PER_REQUEST) * SECTORS_PER_PAGE;
    /** This transfer's slots in flight. */
    const mine: number[] = [];
    const m = this.k.v.memory;
    let failed: number | undefined;
    let at = 0;
    for (let e = 0; e < lbas.length; e++) {
      const lba = lbas[e]!;
      const sectors = typeof counts === 'number' ? counts : counts[e]!;
      for (let done = 0; done < sectors; ) {
        if (this.freeIds.length === 0) {
          this.push();
          // Ours to reap, or a slot another transfer gave back.
          yield* tsleep(cpu, () => this.freeIds.length > 0 || this.anyDone(mine));
          let kept = 0;
          for (let i = 0; i < mine.length; i++) {
            const slot = mine[i]!;
            if (this.shadow[slot]?.done !== true) mine[kept++] = slot;
            else {
              const bad = this.reap(slot, data === undefined ? out : undefined);
              failed ??= bad;
            }
          }
          mine.length = kept;
          this.connected(what, lba);
          continue;
        }
        const n = Math.min(perRequest, sectors - done);
        const slot = this.claimSlot(lba + done, n, at);
        const f = this.records[slot]!;
        for (let s = 0; s < n; s += SECTORS_PER_PAGE) {
          const p = this.takePage();
          if (data !== undefined) m.write(p.addr, data.subarray(at + s * SECTOR, at + Math.min(s + SECTORS_PER_PAGE, n) * SECTOR));
          f.pages[f.nPages++] = p;
        }
        this.queue(slot, op);
        mine.push(slot);
        done += n;
        at += n * SECTOR;
      }
    }
    this.push();
    // Sleep until at least as many responses came as ours still out (others' count too, so look again after).
    for (;;) {
      let outstanding = 0;
      for (let i = 0; i < mine.length; i++) if (this.shadow[mine[i]!]?.done !== true) outstanding++;
      if (outstanding === 0 || this.ring === undefined) break;
      const target = this.completions + outstanding;
      yield* tsleep(cpu, () => this.completions >= target || this.ring === undefined);
    }
    for (let i = 0; i < mine.length; i++) {
      const bad = this.reap(mine[i]!, data === undefined ? out : undefined);
      failed ??= bad;
    }
    if (failed !== undefined) throw new DiskIoError(this.name, what, failed, 'BLKIF_RSP_ERROR');
    return out;
  }

  *read(cpu: Pcpu, lba: number, count: number): Gen<Uint8Array> {
    return yield* this.transfer(cpu, BLKIF_OP.read, [lba], count, undefined);
  }

  /** Reads `sectors` at each of `lbas` as separate requests, as many in flight as the ring holds (the I/O benchmark's queue depth). */
  *readv(cpu: Pcpu, lbas: readonly number[], sectors: number, into?: Uint8Array): Gen<Uint8Array> {
    return yield* this.transfer(cpu, BLKIF_OP.read, lbas, sectors, undefined, into);
  }

  *write(cpu: Pcpu, lba: number, data: Uint8Array): Gen {
    if (data.length % SECTOR !== 0) throw new DiskIoError(this.name, 'write', lba, `${data.length} bytes is not whole sectors`);
    if (this.readOnly) throw new DiskIoError(this.name, 'write', lba, 'read-only disk');
    yield* this.transfer(cpu, BLKIF_OP.write, [lba], data.length / SECTOR, data);
  }

  *flush(cpu: Pcpu): Gen {
    this.connected('flush', 0);
    if (this.flushOp === undefined) return;
    while (this.freeSlot() < 0) yield* tsleep(cpu, () => this.freeSlot() >= 0);
    const slot = this.claimSlot(0, 0, 0);
    this.queue(slot, this.flushOp);
    this.push();
    yield* tsleep(cpu, () => this.shadow[slot]?.done === true);
    const f = this.shadow[slot]!;
    this.releaseSlot(slot);
    if (f.status !== BLKIF_RSP.okay) throw new DiskIoError(this.name, 'flush', 0, f.status === BLKIF_RSP.eopnotsupp ? 'BLKIF_RSP_EOPNOTSUPP' : 'BLKIF_RSP_ERROR');
  }
}
