/** Writes `hvm_info_table` at 0x9F800, as libxc's build_hvm_info does: the firmware's view of vCPUs and memory. */
import type { GuestMemory } from '../../../core/api/index.js';
import { HVM_INFO_PADDR, HVM_INFO_SIGNATURE, HVM_MAX_VCPUS, HvmInfoTable, guestPhysAddr } from '../../../core/public/index.js';
import type { HvmMemory } from './layout.js';

/** The table's bytes: `nrVcpus` vCPUs of which the first `online` are up at boot. */
export function hvmInfoTable(nrVcpus: number, online: number, memory: HvmMemory): Uint8Array {
  const T = HvmInfoTable;
  const bytes = new Uint8Array(T.size);
  const view = new DataView(bytes.buffer);
  bytes.set(Buffer.from(HVM_INFO_SIGNATURE, 'ascii'), T.signature);
  view.setUint32(T.length, T.size, true);
  bytes[T.apicMode] = 1;
  view.setUint32(T.nrVcpus, nrVcpus, true);
  view.setUint32(T.lowMemPgend, memory.lowMemPgend, true);
  view.setUint32(T.reservedMemPgstart, memory.reservedMemPgstart, true);
  view.setUint32(T.highMemPgend, memory.highMemPgend, true);
  for (let i = 0; i < Math.min(online, HVM_MAX_VCPUS); i++) bytes[T.vcpuOnline + (i >> 3)]! |= 1 << (i & 7);
  let sum = 0;
  for (const b of bytes) sum += b;
  bytes[T.checksum] = (0x100 - (sum & 0xff)) & 0xff;
  return bytes;
}

/** Writes the table; returns the bytes written. */
export function writeHvmInfoTable(mem: GuestMemory, nrVcpus: number, online: number, memory: HvmMemory): number {
  const bytes = hvmInfoTable(nrVcpus, online, memory);
  mem.write(guestPhysAddr(HVM_INFO_PADDR), bytes);
  return bytes.length;
}
