/** memory_op's E820 sub-ops (Xen's arch/x86/mm.c arch_memory_op): memory_map, set_memory_map, machine_memory_map. */
import type { Domain } from '../api/domain.js';
import type { HypercallContext } from '../api/hypercall.js';
import { GuestError } from '../api/errors.js';
import { E820, E820Entry, E820MAX, XenForeignMemoryMap, XenMemoryMap } from '../public/memory-op.js';
import { PAGE_SIZE } from '../public/memory.js';
import { targetDomain, type E820Region, type MemoryOpEnv } from './memory-op-common.js';

// --- helpers --------------------------------------------------------------------------------------

/** A domain's pseudo-physical map: what set_memory_map gave, else one RAM entry over its current reservation. */
export function domainMemoryMap(env: MemoryOpEnv, d: Domain): readonly E820Region[] {
  const set = env.state(d.domid).e820;
  if (set !== undefined && set.length > 0) return set;
  return [{ addr: 0n, size: BigInt(d.totPages) * BigInt(PAGE_SIZE), type: E820.RAM }];
}

/** The host's map: all machine memory as one RAM entry. */
export function machineMemoryMap(env: MemoryOpEnv): readonly E820Region[] {
  return [{ addr: 0n, size: BigInt(env.ctx.memory.totalFrames) * BigInt(PAGE_SIZE), type: E820.RAM }];
}

function encodeEntries(entries: readonly E820Region[]): Uint8Array {
  const bytes = new Uint8Array(entries.length * E820Entry.size);
  const view = new DataView(bytes.buffer);
  entries.forEach((e, i) => {
    const at = i * E820Entry.size;
    view.setBigUint64(at + E820Entry.addr, e.addr, true);
    view.setBigUint64(at + E820Entry.length, e.size, true);
    view.setUint32(at + E820Entry.type, e.type, true);
  });
  return bytes;
}

function decodeEntries(bytes: Uint8Array): E820Region[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: E820Region[] = [];
  for (let at = 0; at + E820Entry.size <= bytes.length; at += E820Entry.size) {
    out.push({ addr: view.getBigUint64(at + E820Entry.addr, true), size: view.getBigUint64(at + E820Entry.length, true), type: view.getUint32(at + E820Entry.type, true) });
  }
  return out;
}

function readMemoryMap(caller: HypercallContext, addr: number): { nrEntries: number; buffer: number } {
  const raw = caller.guest.read(addr, XenMemoryMap.size);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return { nrEntries: view.getUint32(XenMemoryMap.nrEntries, true), buffer: Number(view.getBigInt64(XenMemoryMap.buffer, true)) };
}

// --- operations -----------------------------------------------------------------------------------

/** XENMEM_memory_map: the caller's own map, as many entries as fit; nr_entries comes back as the count written. */
export function doMemoryMap(env: MemoryOpEnv, caller: HypercallContext, addr: number): number {
  const map = readMemoryMap(caller, addr);
  const entries = domainMemoryMap(env, env.ctx.domains.lookup(caller.domid));
  const n = Math.min(map.nrEntries, entries.length);
  caller.guest.write(map.buffer, encodeEntries(entries.slice(0, n)));
  caller.guest.writeU32(addr + XenMemoryMap.nrEntries, n);
  return 0;
}

/** XENMEM_set_memory_map: the toolstack (or the domain itself, as XSM_TARGET allows) sets a domain's map; at most E820MAX entries. */
export function doSetMemoryMap(env: MemoryOpEnv, caller: HypercallContext, addr: number): number {
  const raw = caller.guest.read(addr, XenForeignMemoryMap.size);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const nrEntries = view.getUint32(XenForeignMemoryMap.map + XenMemoryMap.nrEntries, true);
  if (nrEntries > E820MAX) throw new GuestError('EINVAL', `set_memory_map: ${nrEntries} entries is more than ${E820MAX}`, { domid: caller.domid });
  const d = targetDomain(env, caller, view.getUint16(XenForeignMemoryMap.domid, true), 'set_memory_map');
  const buffer = Number(view.getBigInt64(XenForeignMemoryMap.map + XenMemoryMap.buffer, true));
  const entries = decodeEntries(caller.guest.read(buffer, nrEntries * E820Entry.size));
  env.state(d.domid).e820 = entries;
  return 0;
}

/**
 * XENMEM_machine_memory_map (privileged): the host's map. A null buffer asks only for the count; a
 * buffer must have room for one entry more than the map has (Xen's rule), else −EINVAL.
 */
export function doMachineMemoryMap(env: MemoryOpEnv, caller: HypercallContext, addr: number): number {
  if (!caller.privileged) throw new GuestError('EPERM', 'machine_memory_map is for the control domain', { domid: caller.domid });
  const map = readMemoryMap(caller, addr);
  const entries = machineMemoryMap(env);
  if (map.buffer !== 0) {
    if (map.nrEntries < entries.length + 1) throw new GuestError('EINVAL', `machine_memory_map: room for ${map.nrEntries} entries, ${entries.length + 1} needed`, { domid: caller.domid });
    caller.guest.write(map.buffer, encodeEntries(entries));
  }
  caller.guest.writeU32(addr + XenMemoryMap.nrEntries, entries.length);
  return 0;
}
