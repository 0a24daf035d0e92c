/**
 * blkback's data path for one connected vbd: takes requests off the shared blkif ring (copied out of the
 * page before they are checked, so a frontend cannot change them under us), carries each out against the
 * disk image through grant accesses, and puts the responses back with Xen's notification rule.
 */
import { SECTOR_SIZE, type DiskImage } from '../../../core/api/index.js';
import { BLKIF_OP, BLKIF_RING_SIZE, BLKIF_RSP, BlkifRequest, BlkifResponse, GNTST, SringHeader } from '../../../core/public/index.js';
import { decodeRequest, emptyRequest, sectorsOf, type GrantPage, type Request } from './blkif-request.js';

const SLOT = BlkifRequest.size;

/** Counters a vbd keeps (`xeno block-list -l`, xentop's VBD columns). */
export interface VbdStats {
  reads: number;
  writes: number;
  flushes: number;
  discards: number;
  sectorsRead: number;
  sectorsWritten: number;
  /** Requests answered with an error or EOPNOTSUPP. */
  errors: number;
}

export function emptyVbdStats(): VbdStats {
  return { reads: 0, writes: 0, flushes: 0, discards: 0, sectorsRead: 0, sectorsWritten: 0, errors: 0 };
}

/** The frontend broke the ring protocol: the vbd is disconnected. */
export class RingProtocolError extends Error {}

/** What one pass did: requests done, bytes moved, whether the frontend must be notified, whether more wait. */
export interface PassResult {
  requests: number;
  bytes: number;
  flushes: number;
  notify: boolean;
  more: boolean;
}

export interface VbdRingOptions {
  readonly image: DiskImage;
  /** Ring page access (its grant). */
  readonly ringPage: (fn: (page: Uint8Array) => void) => number;
  readonly grant: GrantPage;
  /** The most segments an indirect request may carry (what `feature-max-indirect-segments` said). */
  readonly maxIndirectSegments: number;
  /** Whether discard was offered. */
  readonly discard: boolean;
  /** Warns about a refused request (naming domain and device). */
  readonly warn: (message: string) => void;
}

/**
 * The most bytes merged into one image read or write: 128 KiB, a full ring of 4 KiB requests (Linux's
 * max_sectors_kb is 1280). Larger staging buffers are also slower: here pread fills a 128 KiB buffer
 * at ~13 GB/s and the first 128 KiB of any larger one at ~2.6 GB/s (glibc gives allocations of 128 KiB
 * and more their own mapping), which was a third of the 4 KiB read benchmark. For the same reason a
 * preadv straight into the granted frames (which live in such mappings) is ~3× slower than pread into
 * the staging buffer plus a copy per segment.
 */
const MERGE_MAX = 128 << 10;

/** One segment's copy between the staging buffer and a granted page, set before the grant access runs it. */
class StagedCopy {
  staging: Uint8Array = new Uint8Array(0);
  at = 0;
  from = 0;
  to = 0;

  set(staging: Uint8Array, at: number, from: number, to: number): void {
    this.staging = staging;
    this.at = at;
    this.from = from;
    this.to = to;
  }
}

/** One staging buffer for every vbd: passes run one at a time, to completion. */
let sharedStaging: Uint8Array | undefined;

export class VbdRing {
  private readonly io = new StagedCopy();
  /** The granted page into the staging buffer (a write's data), and back out (a read's). Bound once: no closure per segment. */
  private readonly stageIn = (page: Uint8Array): void => {
    const c = this.io;
    c.staging.set(page.subarray(c.from, c.to), c.at);
  };
  private readonly stageOut = (page: Uint8Array): void => {
    const c = this.io;
    page.set(c.staging.subarray(c.at, c.at + (c.to - c.from)), c.from);
  };
  /** The requests of the current pass, copied out of the ring: one record per slot, reused pass after pass. */
  private readonly batch: Request[] = Array.from({ length: BLKIF_RING_SIZE }, emptyRequest);
  private batchLength = 0;
  /** What {@link respond} found, set while it runs in the ring's grant access. */
  private notify = false;
  private more = false;
  private readonly respondIn = (page: Uint8Array): void => this.respond(new DataView(page.buffer, page.byteOffset, page.byteLength));
  private budget = 0;
  private fault: RingProtocolError | undefined;
  private readonly takeIn = (page: Uint8Array): void => this.takeFrom(new DataView(page.buffer, page.byteOffset, page.byteLength));
  private reqCons = 0;
  private rspProdPvt = 0;
  readonly stats = emptyVbdStats();
  private readonly sectors: number;

  constructor(private readonly o: VbdRingOptions) {
    this.sectors = Math.floor(o.image.size / SECTOR_SIZE);
  }

  /**
   * Serves up to `budget` requests. Throws {@link RingProtocolError} when the frontend's indexes are
   * impossible or its ring grant is gone.
   */
  pass(budget: number): PassResult {
    this.take(budget);
    const batch = this.batch;
    const n = this.batchLength;
    let bytes = 0;
    let flushes = 0;
    for (let i = 0; i < n; ) {
      // Requests that continue one another on the disk go to the image as one read or write (the block layer's merging).
      const j = this.mergeableRun(i);
      if (j > i + 1 && this.merged(i, j)) {
        for (let k = i; k < j; k++) bytes += sectorsOf(batch[k]!) * SECTOR_SIZE;
        i = j;
        continue;
      }
      const r = batch[i++]!;
      let s: { status: number; bytes: number; flushes: number };
      try {
        s = this.execute(r);
      } catch (error) {
        // The image failed (EIO, ENOSPC): this request fails, the device goes on.
        this.o.warn(`request at sector ${r.sector} failed: ${error instanceof Error ? error.message : String(error)}`);
        s = { status: BLKIF_RSP.error, bytes: 0, flushes: 0 };
      }
      bytes += s.bytes;
      flushes += s.flushes;
      if (s.status !== BLKIF_RSP.okay) this.stats.errors++;
      r.status = s.status;
    }
    this.notify = false;
    this.more = false;
    const st = this.o.ringPage(this.respondIn);
    if (st !== GNTST.okay) throw new RingProtocolError(`the ring's grant is no longer usable (GNTST ${st})`);
    return { requests: n, bytes, flushes, notify: this.notify, more: this.more };
  }

  /** Puts the pass's responses in the ring, with Xen's notification rule, and looks for more requests. */
  private respond(view: DataView): void {
    const n = this.batchLength;
    for (let i = 0; i < n; i++) {
      const r = this.batch[i]!;
      const at = SringHeader.size + (this.rspProdPvt & (BLKIF_RING_SIZE - 1)) * SLOT;
      view.setUint32(at + BlkifResponse.id, r.idLo, true);
      view.setUint32(at + BlkifResponse.id + 4, r.idHi, true);
      view.setUint8(at + BlkifResponse.operation, r.inner); // an indirect request is answered with its READ/WRITE, as Linux blkback does
      view.setInt16(at + BlkifResponse.status, r.status, true);
      this.rspProdPvt = (this.rspProdPvt + 1) >>> 0;
    }
    if (n > 0) {
      const old = view.getUint32(SringHeader.rspProd, true);
      view.setUint32(SringHeader.rspProd, this.rspProdPvt, true);
      const event = view.getUint32(SringHeader.rspEvent, true);
      this.notify = ((this.rspProdPvt - event) >>> 0) < ((this.rspProdPvt - old) >>> 0);
    }
    // RING_FINAL_CHECK_FOR_REQUESTS: ask for a notification at the next request, then look again.
    if (this.unconsumed(view) === 0) view.setUint32(SringHeader.reqEvent, (this.reqCons + 1) >>> 0, true);
    this.more = this.unconsumed(view) > 0;
  }

  /** A plain read or write the image can take as it is (checked here, so a merged run never needs its errors). */
  private plain(r: Request): boolean {
    if (r.bad !== undefined || (r.inner !== BLKIF_OP.read && r.inner !== BLKIF_OP.write) || r.segs === 0) return false;
    if (r.inner === BLKIF_OP.write && this.o.image.readOnly) return false;
    return r.sector + sectorsOf(r) <= this.sectors;
  }

  /** The end (exclusive) of the run of plain requests from `i` of one direction, each starting where the last ended. */
  private mergeableRun(i: number): number {
    const batch = this.batch;
    const first = batch[i]!;
    if (!this.plain(first)) return i + 1;
    let end = first.sector + sectorsOf(first);
    let bytes = (end - first.sector) * SECTOR_SIZE;
    let j = i + 1;
    for (; j < this.batchLength; j++) {
      const r = batch[j]!;
      if (r.inner !== first.inner || r.sector !== end || !this.plain(r)) break;
      const n = sectorsOf(r);
      if (bytes + n * SECTOR_SIZE > MERGE_MAX) break;
      end += n;
      bytes += n * SECTOR_SIZE;
    }
    return j;
  }

  /**
   * Carries out requests `i..j` of the batch as one image read or write through a staging buffer. False,
   * with nothing written to the disk, when a write's grant fails (the requests then go one by one).
   */
  private merged(i: number, j: number): boolean {
    const batch = this.batch;
    const write = batch[i]!.inner === BLKIF_OP.write;
    const start = batch[i]!.sector * SECTOR_SIZE;
    let length = 0;
    for (let q = i; q < j; q++) length += sectorsOf(batch[q]!) * SECTOR_SIZE;
    sharedStaging ??= new Uint8Array(MERGE_MAX);
    const staging = sharedStaging.subarray(0, length);
    // Each segment's bytes sit in the staging buffer one after another, in the order of the requests.
    if (write) {
      if (!this.stageSegments(i, j, staging, true)) return false;
      this.o.image.write(start, staging);
    } else {
      this.o.image.read(start, staging);
      this.stageSegments(i, j, staging, false);
    }
    for (let q = i; q < j; q++) {
      const r = batch[q]!;
      const n = sectorsOf(r);
      r.status = r.failed ? BLKIF_RSP.error : BLKIF_RSP.okay;
      if (r.failed) this.stats.errors++;
      else if (write) {
        this.stats.writes++;
        this.stats.sectorsWritten += n;
      } else {
        this.stats.reads++;
        this.stats.sectorsRead += n;
      }
    }
    return true;
  }

  /**
   * Copies requests `i..j`'s segments into `staging` (a write: from the granted pages) or out of it (a
   * read: into them). A write stops at the first refused grant (false); a read marks that request failed.
   */
  private stageSegments(i: number, j: number, staging: Uint8Array, write: boolean): boolean {
    for (let q = i, at = 0; q < j; q++) {
      const r = this.batch[q]!;
      for (let k = 0; k < r.segs; k++) {
        const from = r.first[k]! * SECTOR_SIZE;
        const to = (r.last[k]! + 1) * SECTOR_SIZE;
        this.io.set(staging, at, from, to);
        // Reading the disk means writing the frontend's page, and the other way round.
        if (this.o.grant(r.grefs[k]!, !write, write ? this.stageIn : this.stageOut) !== GNTST.okay) {
          if (write) return false;
          if (!r.failed) {
            r.failed = true;
            this.o.warn(`segment grant ${r.grefs[k]}: refused`);
          }
        }
        at += to - from;
      }
    }
    return true;
  }

  private unconsumed(view: DataView): number {
    const prod = view.getUint32(SringHeader.reqProd, true);
    const pending = (prod - this.reqCons) >>> 0;
    if (pending > BLKIF_RING_SIZE || ((prod - this.rspProdPvt) >>> 0) > BLKIF_RING_SIZE) {
      throw new RingProtocolError(`bogus ring indexes (req_prod ${prod}, req_cons ${this.reqCons}, rsp_prod ${this.rspProdPvt})`);
    }
    return Math.min(pending, BLKIF_RING_SIZE - ((this.reqCons - this.rspProdPvt) >>> 0));
  }

  /** Copies up to `budget` requests out of the ring into the batch. */
  private take(budget: number): void {
    this.batchLength = 0;
    this.budget = budget;
    this.fault = undefined;
    const st = this.o.ringPage(this.takeIn);
    const fault = this.fault;
    if (fault !== undefined) throw fault;
    if (st !== GNTST.okay) throw new RingProtocolError(`the ring's grant is no longer usable (GNTST ${st})`);
  }

  private takeFrom(view: DataView): void {
    try {
      const n = Math.min(this.unconsumed(view), this.budget);
      for (let i = 0; i < n; i++) {
        decodeRequest(view, SringHeader.size + (this.reqCons & (BLKIF_RING_SIZE - 1)) * SLOT, this.batch[i]!, this.o);
        this.batchLength = i + 1;
        this.reqCons = (this.reqCons + 1) >>> 0;
      }
    } catch (error) {
      if (!(error instanceof RingProtocolError)) throw error;
      this.fault = error;
    }
  }

  private execute(r: Request): { status: number; bytes: number; flushes: number } {
    const fail = (why: string, status: number = BLKIF_RSP.error) => {
      this.o.warn(why);
      return { status, bytes: 0, flushes: 0 };
    };
    if (r.bad !== undefined) return fail(`request refused: ${r.bad}`);
    const image = this.o.image;
    switch (r.op) {
      case BLKIF_OP.flushDiskcache:
        image.flush();
        this.stats.flushes++;
        return { status: BLKIF_RSP.okay, bytes: 0, flushes: 1 };
      case BLKIF_OP.discard: {
        if (!this.o.discard || image.discard === undefined) return fail('discard was not offered', BLKIF_RSP.eopnotsupp);
        if (r.sector + r.nrSectors > this.sectors) return fail(`discard of sectors ${r.sector}+${r.nrSectors} is past the end of the disk (${this.sectors})`);
        if (image.readOnly) return fail('discard on a read-only disk');
        image.discard(r.sector * SECTOR_SIZE, r.nrSectors * SECTOR_SIZE);
        this.stats.discards++;
        return { status: BLKIF_RSP.okay, bytes: 0, flushes: 0 };
      }
      case BLKIF_OP.read:
      case BLKIF_OP.write:
      case BLKIF_OP.writeBarrier:
      case BLKIF_OP.indirect:
        return this.transfer(r, fail);
      default:
        return fail(`unknown operation ${r.op}`, BLKIF_RSP.eopnotsupp);
    }
  }

  private transfer(r: Request, fail: (why: string, status?: number) => { status: number; bytes: number; flushes: number }): { status: number; bytes: number; flushes: number } {
    const write = r.inner === BLKIF_OP.write || r.inner === BLKIF_OP.writeBarrier;
    let total = 0;
    for (let i = 0; i < r.segs; i++) total += r.last[i]! - r.first[i]! + 1;
    if (r.sector + total > this.sectors) return fail(`${write ? 'write' : 'read'} of sectors ${r.sector}+${total} is past the end of the disk (${this.sectors})`);
    const image = this.o.image;
    if (write && image.readOnly) return fail(`write to sector ${r.sector} of a read-only disk`);
    let flushes = 0;
    if (r.op === BLKIF_OP.writeBarrier) {
      image.flush();
      flushes++;
    }
    let offset = r.sector * SECTOR_SIZE;
    for (let i = 0; i < r.segs; i++) {
      const from = r.first[i]! * SECTOR_SIZE;
      const to = (r.last[i]! + 1) * SECTOR_SIZE;
      const at = offset;
      // A read fills the frontend's page (a write into its memory); a write only reads it.
      const st = this.o.grant(r.grefs[i]!, !write, (page) => (write ? image.write(at, page.subarray(from, to)) : image.read(at, page.subarray(from, to))));
      if (st !== GNTST.okay) return fail(`segment grant ${r.grefs[i]}: GNTST ${st}`);
      offset += to - from;
    }
    if (r.op === BLKIF_OP.writeBarrier) {
      image.flush();
      flushes++;
    }
    if (write) {
      this.stats.writes++;
      this.stats.sectorsWritten += total;
    } else {
      this.stats.reads++;
      this.stats.sectorsRead += total;
    }
    this.stats.flushes += flushes;
    return { status: BLKIF_RSP.okay, bytes: total * SECTOR_SIZE, flushes };
  }
}
