/** The grant-table in-core API: what the domain builder, memory_op, toolstack and in-core backends use. */
import type { InjectionToken } from 'tsyringe';
import type { DomId, GrantRef, GuestFrame, MachineFrame } from '../public/types.js';

/** One decoded `grant_entry_v1`. */
export interface GrantEntry {
  /** GTF_* bits as they are in the table. */
  readonly flags: number;
  /** The grantee. */
  readonly domid: DomId;
  /** The frame granted: a GFN of an auto-translated granter, an MFN of a PV one. */
  readonly frame: number;
}

/** One live grant mapping (a maptrack entry). */
export interface GrantMapping {
  /** The mapper's maptrack handle. */
  readonly handle: number;
  readonly mapper: DomId;
  readonly granter: DomId;
  readonly ref: GrantRef;
  /** The granter's machine frame; −1 once revoked because the granter died. */
  readonly mfn: number;
  /** GNTMAP_* the mapping was made with. */
  readonly flags: number;
  /** The host address of a host mapping (gpa, va or PTE machine address), else 0. */
  readonly hostAddr: number;
  /** True once the granter died and the mapping was torn out from under the mapper. */
  readonly revoked: boolean;
}

/** One side of an in-core {@link GrantTables.copy}: a grant reference of `domid`, or a frame of the caller's own. */
export type GrantCopyPtr = { readonly ref: GrantRef; readonly domid: DomId; readonly offset: number } | { readonly gmfn: number; readonly offset: number };

/**
 * Every domain's grant table (v1). Tables exist from the domain's `created` event until `dying`; calls
 * for a domain without one throw `GuestError('ESRCH')`. Invariant: while a grant is mapped or being
 * copied, its entry carries GTF_reading (and GTF_writing for a writable use); none does once unused.
 */
export interface GrantTables {
  /**
   * XENMEM_add_to_physmap(XENMAPSPACE_grant_table): the machine frame of table frame `idx`, growing the
   * table to `idx + 1` frames. Pass `gfn` (where memory_op maps it) so setup_table can report it to an
   * auto-translated guest. Status frames (idx with bit 31) are v2 only: `GuestError('EINVAL')`;
   * idx ≥ the domain's maximum: `GuestError('EINVAL')`.
   */
  frameForPhysmap(domid: DomId, idx: number, gfn?: GuestFrame): MachineFrame;
  /** xl `max_grant_frames`: the most frames the table may grow to (1..2^16; not below its current size: EINVAL). */
  setMaxFrames(domid: DomId, frames: number): void;
  /** xl `max_maptrack_frames`: bounds the mappings `domid` may hold at once (256 per frame). EINVAL outside 1..65536. */
  setMaxMaptrackFrames(domid: DomId, frames: number): void;
  /** Frames the table has now. */
  nrFrames(domid: DomId): number;
  /** The entry `ref`, decoded; `undefined` when `ref` is beyond the table. */
  entry(domid: DomId, ref: GrantRef): GrantEntry | undefined;
  /**
   * The domain builder's grants (entries 0 and 1: console, xenstore): writes a GTF_permit_access entry
   * granting `frame` to `grantee`. Grows the table if `ref` needs it. EBUSY when the entry is in use.
   */
  grantAccess(domid: DomId, ref: GrantRef, grantee: DomId, frame: number, readonly: boolean): void;
  /** Every live mapping `domid` holds or that others hold of its grants (leak checks). */
  activeMappings(domid: DomId): GrantMapping[];
  /**
   * GNTTABOP_copy for an in-core backend acting as `caller`: copies `len` bytes (within one page on both
   * sides). Returns a GNTST_* status; never throws for a guest's mistake.
   */
  copy(caller: DomId, source: GrantCopyPtr, dest: GrantCopyPtr, len: number): number;
  /**
   * An in-core backend running as `caller` uses grant `ref` of `granter` for the duration of `fn` (a
   * grant map and unmap around one I/O, or one persistent grant's use): `fn` gets the granted 4 KiB page,
   * pinned meanwhile (GTF_reading, and GTF_writing when `write`). Returns a GNTST_* status and calls
   * `fn` only when it is okay: the grant must be for `caller`, and a readonly grant refuses `write`.
   * Never throws for a guest's mistake; `fn` must not keep the page.
   */
  access(caller: DomId, granter: DomId, ref: GrantRef, write: boolean, fn: (page: Uint8Array) => void): number;
}
export const GrantTables = Symbol.for('xenoserver:GrantTables') as InjectionToken<GrantTables>;
