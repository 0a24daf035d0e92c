/** The reusable record a page walk writes its outcome into. */
import { P2mType, type WalkResult, WalkStatus } from '../api/memory.js';

/** A fresh {@link WalkResult}; the MMU keeps one per vCPU and lets every walk overwrite it. */
export function newWalkResult(): WalkResult {
  return { status: WalkStatus.ok, maddr: 0, pageSize: 0, flags: 0, refs: 0, extraCycles: 0, errorCode: 0, level: 0, gpa: 0, p2mType: P2mType.invalid, reason: '' };
}

/** Clears the per-walk counters before a walk. */
export function resetWalkResult(out: WalkResult): void {
  out.status = WalkStatus.ok;
  out.refs = 0;
  out.extraCycles = 0;
  out.flags = 0;
}

/** Fills `out` with a guest page fault and returns its status. */
export function pageFault(out: WalkResult, level: number, errorCode: number, reason: string): WalkStatus {
  out.status = WalkStatus.pageFault;
  out.level = level;
  out.errorCode = errorCode;
  out.reason = reason;
  return WalkStatus.pageFault;
}

/** Fills `out` with a second-stage fault and returns its status. */
export function nestedFault(out: WalkResult, gpa: number, access: number, p2mType: number, level: number): WalkStatus {
  out.status = WalkStatus.nestedFault;
  out.gpa = gpa;
  out.errorCode = access;
  out.p2mType = p2mType;
  out.level = level;
  out.reason = 'refused by the p2m';
  return WalkStatus.nestedFault;
}
