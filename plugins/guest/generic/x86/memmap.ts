/**
 * The native memory map (FreeBSD's hammer_time → add_physmap_entry over MODINFOMD_SMAP): the HVM
 * firmware's hand-off block at RDI gives the BIOS E820 map and the command line.
 */
import type { VcpuApi } from '../../../../core/api/index.js';
import { PAGE_SIZE } from '../../../../core/public/index.js';
import { BiosSmap, HVM_BOOT_METADATA_MAGIC, HvmBootMetadata, SMAP_TYPE } from '../../../../core/public/index.js';
import type { Preload } from '../boot/init-ops.js';
import { framesOf, type FrameRange } from '../kern/vm_phys.js';

const SMAP_NAMES: Record<number, string> = { 1: 'RAM', 2: 'RESERVED', 3: 'ACPI', 4: 'NVS', 5: 'UNUSABLE' };
/** More entries than any firmware writes: a corrupt count. */
const MAX_SMAP_ENTRIES = 128;
const MAX_CMDLINE = 4096;

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** True when RDI points at the firmware's hand-off block. */
export function hasHvmMetadata(v: VcpuApi, addr: number): boolean {
  try {
    return v.memory.readU32(addr + HvmBootMetadata.magic) === HVM_BOOT_METADATA_MAGIC;
  } catch {
    return false;
  }
}

/** Reads the hand-off block at `addr`: RAM from the SMAP, the block itself reserved. */
export function parseHvmMetadata(v: VcpuApi, addr: number): Preload {
  const m = v.memory;
  const version = m.readU32(addr + HvmBootMetadata.version);
  const smap = addr + m.readU32(addr + HvmBootMetadata.smapOffset);
  const entries = m.readU32(addr + HvmBootMetadata.smapEntries);
  if (entries === 0 || entries > MAX_SMAP_ENTRIES) throw new Error(`hvm boot metadata at ${hex(addr)}: ${entries} SMAP entries (1-${MAX_SMAP_ENTRIES} expected)`);
  const cmdlineLength = Math.min(m.readU32(addr + HvmBootMetadata.cmdlineLength), MAX_CMDLINE);
  const cmdlineAt = addr + m.readU32(addr + HvmBootMetadata.cmdlineOffset);
  const raw = cmdlineLength > 0 ? m.read(cmdlineAt, cmdlineLength) : new Uint8Array();
  const nul = raw.indexOf(0);
  const cmdline = new TextDecoder().decode(nul < 0 ? raw : raw.subarray(0, nul));
  const notes = [`native: boot metadata v${version} at ${hex(addr)}`, 'SMAP type=01 is usable RAM:'];
  const ram: FrameRange[] = [];
  for (let i = 0; i < entries; i++) {
    const at = smap + i * BiosSmap.size;
    const base = m.readU64(at + BiosSmap.base);
    const length = m.readU64(at + BiosSmap.length);
    const type = m.readU32(at + BiosSmap.type);
    notes.push(`SMAP type=${type.toString(16).padStart(2, '0')} base=${hex(base).padStart(18)} len=${hex(length).padStart(18)} ${SMAP_NAMES[type] ?? ''}`.trimEnd());
    if (type === SMAP_TYPE.MEMORY && length > 0) {
      const start = Math.ceil(base / PAGE_SIZE);
      const end = Math.floor((base + length) / PAGE_SIZE);
      if (end > start) ram.push({ start, end });
    }
  }
  const blockEnd = Math.max(smap + entries * BiosSmap.size, cmdlineAt + cmdlineLength, addr + HvmBootMetadata.size);
  return { startInfo: addr, cmdline, ram, reserved: [framesOf(addr, blockEnd - addr)], notes };
}
