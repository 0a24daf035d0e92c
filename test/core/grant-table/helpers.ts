/** Shared set-up for grant-table tests: a booted host, granters' tables mapped in their P2M, op structs in guest memory. */
import { createHash } from 'node:crypto';
import type { Host } from '../../../core/host/host.js';
import { GrantTables, type GrantTables as GrantTablesApi } from '../../../core/api/grant-table.js';
import { P2mType } from '../../../core/api/memory.js';
import { GnttabCopy, GnttabMapGrantRef, GnttabUnmapGrantRef, GrantEntryV1, GTF } from '../../../core/public/grant-table.js';
import { Hypercall } from '../../../core/public/xen.js';
import { domId, guestFrame, machineFrame, type MachineFrame } from '../../../core/public/types.js';
import { vcpuOf } from '../../hypervisor/harness.js';

/** Where each test domain keeps its op structs (guest-physical, paging off). */
export const OPS = 0x1000;
/** Where an auto-translated granter maps grant-table frame 0 (above 16 MiB of RAM). */
export const TABLE_GFN = 0x2000;

export function grantTables(host: Host): GrantTablesApi {
  return host.container.resolve(GrantTables);
}

/** HYPERVISOR_grant_table_op from `domid`'s vCPU 0 through the real dispatcher. */
export function gnttabOp(host: Host, domid: number, cmd: number, addr: number, count: number): number {
  return host.dispatcher.dispatch(vcpuOf(host, domid), Hypercall.grant_table_op, [cmd, addr, count]);
}

/** Maps table frame 0 of an auto-translated domain at TABLE_GFN, as XENMEM_add_to_physmap would. */
export function mapOwnTable(host: Host, domid: number): void {
  const mfn = grantTables(host).frameForPhysmap(domId(domid), 0, guestFrame(TABLE_GFN));
  host.p2mOf(domid)!.set(guestFrame(TABLE_GFN), mfn, P2mType.ram_rw);
}

/** The granter publishes entry `ref` itself, through its own memory (domid, frame, then flags). */
export function guestGrant(host: Host, granter: number, ref: number, grantee: number, frame: number, flags: number = GTF.permit_access): void {
  const g = vcpuOf(host, granter).guest;
  const at = TABLE_GFN * 4096 + ref * GrantEntryV1.size;
  g.writeU16(at + GrantEntryV1.domid, grantee);
  g.writeU32(at + GrantEntryV1.frame, frame);
  g.writeU16(at + GrantEntryV1.flags, flags);
}

export interface MapOp {
  hostAddr: number;
  flags: number;
  ref: number;
  dom: number;
}

export function writeMapOp(host: Host, domid: number, addr: number, op: MapOp): void {
  const g = vcpuOf(host, domid).guest;
  g.write(addr, new Uint8Array(GnttabMapGrantRef.size));
  g.writeU64(addr + GnttabMapGrantRef.hostAddr, op.hostAddr);
  g.writeU32(addr + GnttabMapGrantRef.flags, op.flags);
  g.writeU32(addr + GnttabMapGrantRef.ref, op.ref);
  g.writeU16(addr + GnttabMapGrantRef.dom, op.dom);
  g.writeU16(addr + GnttabMapGrantRef.status, 0x7777);
}

export function readMapResult(host: Host, domid: number, addr: number): { status: number; handle: number; devBusAddr: number } {
  const g = vcpuOf(host, domid).guest;
  return { status: (g.readU16(addr + GnttabMapGrantRef.status) << 16) >> 16, handle: g.readU32(addr + GnttabMapGrantRef.handle), devBusAddr: g.readU64(addr + GnttabMapGrantRef.devBusAddr) };
}

/** One map op through the hypercall; returns its status and OUT fields. */
export function mapGrant(host: Host, domid: number, op: MapOp): { status: number; handle: number; devBusAddr: number } {
  writeMapOp(host, domid, OPS, op);
  const rc = gnttabOp(host, domid, 0, OPS, 1);
  if (rc !== 0) throw new Error(`map_grant_ref returned ${rc}`);
  return readMapResult(host, domid, OPS);
}

/** One unmap op through the hypercall; returns its status. */
export function unmapGrant(host: Host, domid: number, hostAddr: number, handle: number, devBusAddr = 0): number {
  const g = vcpuOf(host, domid).guest;
  g.writeU64(OPS + GnttabUnmapGrantRef.hostAddr, hostAddr);
  g.writeU64(OPS + GnttabUnmapGrantRef.devBusAddr, devBusAddr);
  g.writeU32(OPS + GnttabUnmapGrantRef.handle, handle);
  g.writeU16(OPS + GnttabUnmapGrantRef.status, 0x7777);
  const rc = gnttabOp(host, domid, 1, OPS, 1);
  if (rc !== 0) throw new Error(`unmap_grant_ref returned ${rc}`);
  return (g.readU16(OPS + GnttabUnmapGrantRef.status) << 16) >> 16;
}

export interface CopyOp {
  source: { u: number; domid: number; offset: number };
  dest: { u: number; domid: number; offset: number };
  len: number;
  flags: number;
}

/** One copy op through the hypercall; returns its status. */
export function copyGrant(host: Host, domid: number, op: CopyOp): number {
  const g = vcpuOf(host, domid).guest;
  g.write(OPS, new Uint8Array(GnttabCopy.size));
  g.writeU64(OPS + GnttabCopy.sourceU, op.source.u);
  g.writeU16(OPS + GnttabCopy.sourceDomid, op.source.domid);
  g.writeU16(OPS + GnttabCopy.sourceOffset, op.source.offset);
  g.writeU64(OPS + GnttabCopy.destU, op.dest.u);
  g.writeU16(OPS + GnttabCopy.destDomid, op.dest.domid);
  g.writeU16(OPS + GnttabCopy.destOffset, op.dest.offset);
  g.writeU16(OPS + GnttabCopy.len, op.len);
  g.writeU16(OPS + GnttabCopy.flags, op.flags);
  const rc = gnttabOp(host, domid, 5, OPS, 1);
  if (rc !== 0) throw new Error(`copy returned ${rc}`);
  return (g.readU16(OPS + GnttabCopy.status) << 16) >> 16;
}

/** The machine frame behind a domain's gfn. */
export function mfnOfGfn(host: Host, domid: number, gfn: number): MachineFrame {
  const mfn = host.p2mOf(domid)!.mfnOf(guestFrame(gfn));
  if (mfn < 0) throw new Error(`dom${domid} gfn 0x${gfn.toString(16)} is not mapped`);
  return machineFrame(mfn);
}

/** A digest of every backed frame `domid` owns, except `skip` (e.g. its op-struct page). */
export function memoryDigest(host: Host, domid: number, skip: readonly number[] = []): string {
  const hash = createHash('sha1');
  const mem = host.memory;
  for (let mfn = 0; mfn < mem.totalFrames; mfn++) {
    const f = machineFrame(mfn);
    if (mem.ownerOf(f) !== domid || skip.includes(mfn)) continue;
    hash.update(String(mfn));
    if (mem.isBacked(f)) hash.update(mem.frameBytes(f));
  }
  return hash.digest('hex');
}

/** Everything a refusal must leave as it was: both P2Ms, both domains' memory (op pages aside), and a grant entry. */
export function snapshot(host: Host, granter: number, ref: number, mapper: number): string {
  const skip = [mfnOfGfn(host, mapper, OPS / 4096)];
  const entry = grantTables(host).entry(domId(granter), ref as never);
  return JSON.stringify({
    entry,
    p2mGranter: host.p2mOf(granter)!.dump(),
    p2mMapper: host.p2mOf(mapper)!.dump(),
    memGranter: memoryDigest(host, granter, granter === mapper ? skip : []),
    memMapper: memoryDigest(host, mapper, skip),
  });
}
