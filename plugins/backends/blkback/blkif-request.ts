/** One blkif request as blkback copies it out of its ring slot (and its indirect pages), checked as it is read. */
import { SECTOR_SIZE } from '../../../core/api/index.js';
import {
  BLKIF_MAX_SEGMENTS_PER_REQUEST, BLKIF_OP, BLKIF_SEGS_PER_INDIRECT_FRAME, BlkifRequest, BlkifRequestDiscard, BlkifRequestIndirect, BlkifSegment, GNTST,
} from '../../../core/public/index.js';

/** Sectors of a 4 KiB frame. */
const SECTORS_PER_PAGE = 4096 / SECTOR_SIZE;

/** What the data path needs of the grant table: one pinned use of a frontend's page (GrantTables.access, bound to the domains). */
export type GrantPage = (ref: number, write: boolean, fn: (page: Uint8Array) => void) => number;

/** One request as copied out of its slot: a record the ring reuses slot after slot. */
export interface Request {
  /** The operation in the slot. */
  op: number;
  /** The data operation, echoed in the response: `op`, or an indirect request's READ/WRITE. */
  inner: number;
  /** The u64 id's bytes, echoed as they came. */
  idLo: number;
  idHi: number;
  sector: number;
  /** READ/WRITE (direct or indirect): how many segments, and the first `segs` entries of the arrays below (reused, never shrunk). */
  segs: number;
  grefs: number[];
  first: number[];
  last: number[];
  /** DISCARD: sectors. */
  nrSectors: number;
  /** Set when the request is malformed: why (it gets BLKIF_RSP_ERROR). */
  bad: string | undefined;
  /** A merged run could not put this request's data in a segment's page (it gets BLKIF_RSP_ERROR). */
  failed: boolean;
  /** The response's status, once carried out. */
  status: number;
}

/** A blank record for {@link decodeRequest} to fill. */
export function emptyRequest(): Request {
  return { op: 0, inner: 0, idLo: 0, idHi: 0, sector: 0, segs: 0, grefs: [], first: [], last: [], nrSectors: 0, bad: undefined, failed: false, status: 0 };
}

/** The sectors a read or write's segments cover. */
export function sectorsOf(r: Request): number {
  let n = 0;
  for (let i = 0; i < r.segs; i++) n += r.last[i]! - r.first[i]! + 1;
  return n;
}

/** What decoding needs: indirect pages are read through grants, up to the segments offered. */
export interface DecodeOptions {
  readonly grant: GrantPage;
  readonly maxIndirectSegments: number;
}

/** Fills `r` from the request slot at `at` of the ring page `view` (a malformed request gets `bad`). */
export function decodeRequest(view: DataView, at: number, r: Request, o: DecodeOptions): void {
  const op = view.getUint8(at + BlkifRequest.operation);
  r.op = op;
  r.inner = op;
  r.idLo = view.getUint32(at + BlkifRequest.id, true);
  r.idHi = view.getUint32(at + BlkifRequest.id + 4, true);
  r.sector = view.getUint32(at + BlkifRequest.sectorNumber + 4, true) * 2 ** 32 + view.getUint32(at + BlkifRequest.sectorNumber, true);
  r.segs = 0;
  r.nrSectors = 0;
  r.bad = undefined;
  r.failed = false;
  r.status = 0;
  if (op === BLKIF_OP.read || op === BLKIF_OP.write || op === BLKIF_OP.writeBarrier) {
    const n = view.getUint8(at + BlkifRequest.nrSegments);
    if (op !== BLKIF_OP.writeBarrier && n === 0) r.bad = 'no segments';
    else if (n > BLKIF_MAX_SEGMENTS_PER_REQUEST) r.bad = `${n} segments (the most is ${BLKIF_MAX_SEGMENTS_PER_REQUEST})`;
    else for (let i = 0; i < n; i++) segment(r, view, at + BlkifRequest.seg + i * BlkifSegment.size);
  } else if (op === BLKIF_OP.discard) {
    r.nrSectors = Number(view.getBigUint64(at + BlkifRequestDiscard.nrSectors, true));
  } else if (op === BLKIF_OP.indirect) {
    decodeIndirect(r, view, at, o);
  }
}

function segment(r: Request, view: DataView, at: number): void {
  const first = view.getUint8(at + BlkifSegment.firstSect);
  const last = view.getUint8(at + BlkifSegment.lastSect);
  if (first > last || last >= SECTORS_PER_PAGE) r.bad ??= `segment sectors ${first}..${last} are not within a page`;
  const k = r.segs++;
  r.grefs[k] = view.getUint32(at + BlkifSegment.gref, true);
  r.first[k] = first;
  r.last[k] = last;
}

/** An indirect request: its segments live in the pages its indirect grants name. */
function decodeIndirect(r: Request, view: DataView, at: number, o: DecodeOptions): void {
  const inner = view.getUint8(at + BlkifRequestIndirect.indirectOp);
  const n = view.getUint16(at + BlkifRequestIndirect.nrSegments, true);
  r.sector = Number(view.getBigUint64(at + BlkifRequestIndirect.sectorNumber, true));
  if (inner !== BLKIF_OP.read && inner !== BLKIF_OP.write) {
    r.bad = `indirect operation ${inner}`;
    return;
  }
  r.inner = inner;
  if (o.maxIndirectSegments === 0) r.bad = 'indirect requests were not offered';
  else if (n === 0 || n > o.maxIndirectSegments) r.bad = `${n} indirect segments (the most is ${o.maxIndirectSegments})`;
  if (r.bad !== undefined) return;
  for (let p = 0; p * BLKIF_SEGS_PER_INDIRECT_FRAME < n; p++) {
    const ref = view.getUint32(at + BlkifRequestIndirect.indirectGrefs + p * 4, true);
    const count = Math.min(BLKIF_SEGS_PER_INDIRECT_FRAME, n - p * BLKIF_SEGS_PER_INDIRECT_FRAME);
    const st = o.grant(ref, false, (page) => {
      const segs = new DataView(page.buffer, page.byteOffset, page.byteLength);
      for (let i = 0; i < count; i++) segment(r, segs, i * BlkifSegment.size);
    });
    if (st !== GNTST.okay) {
      r.bad = `indirect page grant ${ref}: GNTST ${st}`;
      return;
    }
  }
}
