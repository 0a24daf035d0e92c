/** Which accesses a cached translation allows, as a bitmap indexed by access mask. */
import { Access, WalkControl, WalkFlag } from '../api/memory.js';

const SUP_READ = 1 << Access.read;
const SUP_WRITE = 1 << Access.write;
const SUP_EXEC = 1 << Access.exec;
const USER_READ = 1 << Access.user;
const USER_WRITE = 1 << (Access.user | Access.write);
const USER_EXEC = 1 << (Access.user | Access.exec);

/**
 * The accesses a translation with walk flags `flags` serves without a new walk: bit `a` is set when
 * access mask `a` is allowed. A write needs the Dirty bit already set (else x86 re-walks to set it);
 * anything the bitmap refuses goes back to the walker, which then sets D or reports the precise fault.
 */
export function permitMask(flags: number, control: number): number {
  const s2r = (flags & WalkFlag.s2read) !== 0;
  const s2w = (flags & WalkFlag.s2write) !== 0 && (flags & WalkFlag.dirty) !== 0;
  const s2x = (flags & WalkFlag.s2exec) !== 0 && (flags & WalkFlag.nx) === 0;
  const writable = (flags & WalkFlag.write) !== 0;
  let mask = 0;
  if (s2r) mask |= SUP_READ;
  if (s2w && (writable || (control & WalkControl.wp) === 0)) mask |= SUP_WRITE;
  if (s2x) mask |= SUP_EXEC;
  if ((flags & WalkFlag.user) !== 0) {
    if (s2r) mask |= USER_READ;
    if (s2w && writable) mask |= USER_WRITE;
    if (s2x) mask |= USER_EXEC;
  }
  return mask;
}
