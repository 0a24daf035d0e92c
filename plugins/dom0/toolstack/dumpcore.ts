/**
 * `xl dump-core` and the coredump-* shutdown actions: a domain's memory, vCPU contexts and shared-info
 * page written as a xen dump-core file (an ELF64 ET_CORE file with Xen's sections and notes, as libxc's
 * xc_domain_dumpcore writes it; core/public/dumpcore.ts). Pages stream to the file in batches, so a
 * large guest does not need its size in memory; a frame never touched is written as zeros without being
 * backed.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { P2mType, type Domain, type MachineMemory, type Platform } from '../../../core/api/index.js';
import {
  PAGE_SIZE,
  SharedInfo,
  VcpuGuestContext,
  XC_CORE_MAGIC,
  XC_CORE_MAGIC_HVM,
  XEN_DUMPCORE_ELFNOTE_NAME,
  XEN_DUMPCORE_FORMAT_VERSION,
  XEN_DUMPCORE_SEC,
  XEN_ELFNOTE_DUMPCORE,
  XenCompileInfo,
  XenDumpcoreHeader,
  XenDumpcoreP2m,
  XenDumpcoreXenVersion,
  type MachineFrame,
} from '../../../core/public/index.js';

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const ET_CORE = 4;
const EM_X86_64 = 62;
const SHT = { null: 0, progbits: 1, strtab: 3, note: 7 } as const;
const NOTE_HEADER = 16;
const RAM = new Set<number>([P2mType.ram_rw, P2mType.ram_ro, P2mType.ram_logdirty]);
/** Pages per write. */
const BATCH = 256;

/** What a dump is read from. */
export interface CoreDumpSource {
  readonly domain: Domain;
  readonly memory: MachineMemory;
  readonly platform: Platform;
}

/** What a dump wrote. */
export interface CoreDumpResult {
  readonly file: string;
  readonly pages: number;
  readonly bytes: number;
}

interface Section {
  readonly name: string;
  readonly type: number;
  readonly align: number;
  readonly size: number;
  offset: number;
  nameAt: number;
}

function ascii(bytes: Uint8Array, at: number, size: number, text: string): void {
  const n = Math.min(text.length, size - 1);
  for (let i = 0; i < n; i++) bytes[at + i] = text.charCodeAt(i) & 0xff;
}

/** `.note.Xen`: none, header, xen_version and format_version, each with the 4-byte name "Xen". */
function notes(d: Domain, platform: Platform, nrPages: number): Uint8Array {
  const descs: [number, Uint8Array][] = [];
  descs.push([XEN_ELFNOTE_DUMPCORE.none, new Uint8Array(0)]);
  const header = new Uint8Array(XenDumpcoreHeader.size);
  const hv = new DataView(header.buffer);
  hv.setBigUint64(XenDumpcoreHeader.magic, BigInt(d.mode === 'pv' ? XC_CORE_MAGIC : XC_CORE_MAGIC_HVM), true);
  hv.setBigUint64(XenDumpcoreHeader.nrVcpus, BigInt(d.vcpus.length), true);
  hv.setBigUint64(XenDumpcoreHeader.nrPages, BigInt(nrPages), true);
  hv.setBigUint64(XenDumpcoreHeader.pageSize, BigInt(PAGE_SIZE), true);
  descs.push([XEN_ELFNOTE_DUMPCORE.header, header]);
  const info = platform.versionInfo();
  const V = XenDumpcoreXenVersion;
  const version = new Uint8Array(V.size);
  const vv = new DataView(version.buffer);
  vv.setBigUint64(V.major, BigInt(info.version >>> 16), true);
  vv.setBigUint64(V.minor, BigInt(info.version & 0xffff), true);
  ascii(version, V.extraVersion, V.extraVersionSize, info.extraversion);
  version.set(info.compileInfo.subarray(0, XenCompileInfo.size), V.compileInfo);
  ascii(version, V.capabilities, V.capabilitiesSize, info.capabilities);
  ascii(version, V.changeset, V.changesetSize, info.changeset);
  vv.setBigUint64(V.virtStart, info.virtStart, true);
  vv.setBigUint64(V.pageSize, BigInt(info.pageSize), true);
  descs.push([XEN_ELFNOTE_DUMPCORE.xenVersion, version]);
  const format = new Uint8Array(8);
  new DataView(format.buffer).setBigUint64(0, XEN_DUMPCORE_FORMAT_VERSION, true);
  descs.push([XEN_ELFNOTE_DUMPCORE.formatVersion, format]);

  const out = new Uint8Array(descs.reduce((n, [, desc]) => n + NOTE_HEADER + desc.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const [type, desc] of descs) {
    view.setUint32(at, XEN_DUMPCORE_ELFNOTE_NAME.length + 1, true);
    view.setUint32(at + 4, desc.length, true);
    view.setUint32(at + 8, type, true);
    ascii(out, at + 12, 4, XEN_DUMPCORE_ELFNOTE_NAME);
    out.set(desc, at + NOTE_HEADER);
    at += NOTE_HEADER + desc.length;
  }
  return out;
}

/**
 * Writes `src.domain`'s core to `file` (its folder is made). The domain should be paused or shut down,
 * as libxl's dump pauses it; a running one gives a dump of no single instant. Every RAM frame of its
 * P2M is a page (PV: `.xen_p2m` pfn/mfn pairs; translated guests: `.xen_pfn`).
 */
export function writeCoreDump(file: string, src: CoreDumpSource): CoreDumpResult {
  const { domain: d, memory, platform } = src;
  const frames: { gfn: number; mfn: number }[] = [];
  for (const [gfn, mfn, type] of d.p2m.entries()) if (RAM.has(type)) frames.push({ gfn, mfn });
  const pv = d.mode === 'pv';

  const noteBytes = notes(d, platform, frames.length);
  const prstatus = new Uint8Array(d.vcpus.length * VcpuGuestContext.size);
  d.vcpus.forEach((_, i) => prstatus.set(platform.vcpuContext(d.domid, i), i * VcpuGuestContext.size));
  const shared = d.sharedInfo.bytes.slice(0, SharedInfo.size);
  const map = new Uint8Array(frames.length * (pv ? XenDumpcoreP2m.size : 8));
  const mv = new DataView(map.buffer);
  frames.forEach((f, i) => {
    if (pv) {
      mv.setBigUint64(i * XenDumpcoreP2m.size + XenDumpcoreP2m.pfn, BigInt(f.gfn), true);
      mv.setBigUint64(i * XenDumpcoreP2m.size + XenDumpcoreP2m.gmfn, BigInt(f.mfn), true);
    } else mv.setBigUint64(i * 8, BigInt(f.gfn), true);
  });

  const sections: Section[] = [
    { name: '', type: SHT.null, align: 0, size: 0, offset: 0, nameAt: 0 },
    { name: '.shstrtab', type: SHT.strtab, align: 1, size: 0, offset: 0, nameAt: 0 },
    { name: XEN_DUMPCORE_SEC.note, type: SHT.note, align: 8, size: noteBytes.length, offset: 0, nameAt: 0 },
    { name: XEN_DUMPCORE_SEC.prstatus, type: SHT.progbits, align: 8, size: prstatus.length, offset: 0, nameAt: 0 },
    { name: XEN_DUMPCORE_SEC.sharedInfo, type: SHT.progbits, align: 8, size: shared.length, offset: 0, nameAt: 0 },
    { name: pv ? XEN_DUMPCORE_SEC.p2m : XEN_DUMPCORE_SEC.pfn, type: SHT.progbits, align: 8, size: map.length, offset: 0, nameAt: 0 },
    { name: XEN_DUMPCORE_SEC.pages, type: SHT.progbits, align: PAGE_SIZE, size: frames.length * PAGE_SIZE, offset: 0, nameAt: 0 },
  ];
  const strtab: number[] = [0];
  for (const s of sections.slice(1)) {
    s.nameAt = strtab.length;
    for (let i = 0; i < s.name.length; i++) strtab.push(s.name.charCodeAt(i));
    strtab.push(0);
  }
  (sections[1] as { size: number }).size = strtab.length;
  const bodies = [Uint8Array.from(strtab), noteBytes, prstatus, shared, map];
  let offset = EHDR_SIZE + sections.length * SHDR_SIZE;
  for (const s of sections.slice(1)) {
    if (s.align > 1) offset = Math.ceil(offset / s.align) * s.align;
    s.offset = offset;
    offset += s.size;
  }

  const head = new Uint8Array(sections[sections.length - 1]!.offset);
  const hv = new DataView(head.buffer);
  head.set([0x7f, 0x45, 0x4c, 0x46, 2 /* ELFCLASS64 */, 1 /* little-endian */, 1 /* EV_CURRENT */, 0 /* SYSV */]);
  hv.setUint16(16, ET_CORE, true);
  hv.setUint16(18, EM_X86_64, true);
  hv.setUint32(20, 1, true);
  hv.setBigUint64(40, BigInt(EHDR_SIZE), true); // e_shoff
  hv.setUint16(52, EHDR_SIZE, true);
  hv.setUint16(58, SHDR_SIZE, true);
  hv.setUint16(60, sections.length, true);
  hv.setUint16(62, 1, true); // e_shstrndx
  sections.forEach((s, i) => {
    const at = EHDR_SIZE + i * SHDR_SIZE;
    hv.setUint32(at, s.nameAt, true);
    hv.setUint32(at + 4, s.type, true);
    hv.setBigUint64(at + 24, BigInt(s.offset), true);
    hv.setBigUint64(at + 32, BigInt(s.size), true);
    hv.setBigUint64(at + 48, BigInt(s.align), true);
    if (i >= 1 && i <= bodies.length) head.set(bodies[i - 1]!, s.offset);
  });

  mkdirSync(dirname(file), { recursive: true });
  const fd = openSync(file, 'w', 0o600);
  try {
    writeSync(fd, head);
    const batch = new Uint8Array(BATCH * PAGE_SIZE);
    for (let i = 0; i < frames.length; i += BATCH) {
      const n = Math.min(BATCH, frames.length - i);
      batch.fill(0, 0, n * PAGE_SIZE);
      for (let k = 0; k < n; k++) {
        const mfn = frames[i + k]!.mfn as MachineFrame;
        if (memory.isBacked(mfn)) batch.set(memory.frameBytes(mfn), k * PAGE_SIZE);
      }
      writeSync(fd, batch, 0, n * PAGE_SIZE);
    }
  } finally {
    closeSync(fd);
  }
  return { file, pages: frames.length, bytes: offset };
}
