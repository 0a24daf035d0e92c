import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Toolstack, type Toolstack as ToolstackApi } from '../../../../core/api/index.js';
import { CpuUserRegs, VcpuGuestContext, XC_CORE_MAGIC, XC_CORE_MAGIC_HVM, guestPhysAddr } from '../../../../core/public/index.js';
import { bootToolstackHost, guest, settle, type ToolstackHost } from './harness.js';

let t: ToolstackHost;
let toolstack: ToolstackApi;

beforeAll(async () => {
  t = await bootToolstackHost();
  toolstack = t.host.plugins.resolveAll(Toolstack)[0]!;
});
afterAll(async () => {
  await t.cleanup();
});

/** The sections of an ELF64 file by name: offset and size (read with our own eyes, checked against readelf below). */
function sections(file: Buffer): Map<string, { offset: number; size: number; type: number }> {
  const shoff = Number(file.readBigUInt64LE(40));
  const shnum = file.readUInt16LE(60);
  const strndx = file.readUInt16LE(62);
  const str = Number(file.readBigUInt64LE(shoff + strndx * 64 + 24));
  const out = new Map<string, { offset: number; size: number; type: number }>();
  for (let i = 1; i < shnum; i++) {
    const at = shoff + i * 64;
    const nameAt = str + file.readUInt32LE(at);
    const name = file.toString('latin1', nameAt, file.indexOf(0, nameAt));
    out.set(name, { type: file.readUInt32LE(at + 4), offset: Number(file.readBigUInt64LE(at + 24)), size: Number(file.readBigUInt64LE(at + 32)) });
  }
  return out;
}

/** The page of guest frame `gfn` in a dump: found through `.xen_pfn` (translated) or `.xen_p2m` (PV). */
function pageOf(file: Buffer, gfn: number): Buffer | undefined {
  const s = sections(file);
  const pages = s.get('.xen_pages')!;
  const pfn = s.get('.xen_pfn');
  const p2m = s.get('.xen_p2m');
  const stride = pfn ? 8 : 16;
  const map = (pfn ?? p2m)!;
  for (let i = 0; i < map.size / stride; i++) {
    if (Number(file.readBigUInt64LE(map.offset + i * stride)) === gfn) return file.subarray(pages.offset + i * 4096, pages.offset + (i + 1) * 4096);
  }
  return undefined;
}

function readelf(args: string[], file: string): string {
  return execFileSync('readelf', ['-W', ...args, file], { encoding: 'utf8' });
}

describe('core dumps (xl dump-core, on_crash=coredump-*)', () => {
  it('dump-core of a running PVH guest: an ELF core readelf reads, with its pages, vCPU contexts and notes; the guest runs on', () => {
    const rec = settle(t.host, toolstack.create(guest('name = "dumped"\ntype = "pvh"\nkernel = "idle"\nmemory = 32\nvcpus = 2\n'))).result!;
    const d = t.host.domains.lookup(rec.domid);
    const pattern = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7 + 3) & 0xff);
    d.guestMemory.write(guestPhysAddr(0x123 * 4096), pattern);
    d.vcpus[0]!.context.rbx = 0x1234_5678;
    const file = join(t.runDir, 'manual.core');
    const job = settle(t.host, toolstack.dumpCore(rec.domid, file));
    expect(job.error).toBeUndefined();
    expect(job.result!.pages).toBe(32 * 256 + 2); // RAM plus the xenstore and console pages
    const bytes = readFileSync(file);
    expect(bytes.length).toBe(job.result!.bytes);

    const headers = readelf(['-h'], file);
    expect(headers).toMatch(/Class:\s+ELF64/);
    expect(headers).toMatch(/Type:\s+CORE/);
    expect(headers).toMatch(/Machine:\s+Advanced Micro Devices X86-64/);
    const s0 = sections(bytes);
    const secs = readelf(['-S'], file);
    for (const name of ['.note.Xen', '.xen_prstatus', '.xen_shared_info', '.xen_pfn', '.xen_pages', '.shstrtab']) expect(secs).toContain(name);
    expect(secs).not.toContain('.xen_p2m');
    expect(secs).toMatch(/\.note\.Xen\s+NOTE/);
    expect(secs).toMatch(/\.xen_pages\s+PROGBITS/);
    // The four notes, each named "Xen": none, header, xen_version, format_version (types 0x2000000..3, little-endian).
    const hex = readelf(['-x', '.note.Xen'], file)
      .split('\n')
      .map((line) => /^\s+0x[0-9a-f]+ ((?:[0-9a-f]{2,8} ){1,4})/.exec(line)?.[1]?.replace(/ /g, '') ?? '')
      .join('');
    expect(hex.length).toBe(2 * s0.get('.note.Xen')!.size);
    for (const type of ['00000002', '01000002', '02000002', '03000002']) expect(hex).toContain(`${type}58656e00`);

    const s = sections(bytes);
    const header = s.get('.note.Xen')!.offset + 16; // the header note follows the empty "none" note
    expect(bytes.readUInt32LE(header + 8)).toBe(0x2000001);
    expect(Number(bytes.readBigUInt64LE(header + 16))).toBe(XC_CORE_MAGIC_HVM);
    expect(Number(bytes.readBigUInt64LE(header + 24))).toBe(2);
    expect(Number(bytes.readBigUInt64LE(header + 32))).toBe(job.result!.pages);
    expect(s.get('.xen_prstatus')!.size).toBe(2 * VcpuGuestContext.size);
    expect(Number(bytes.readBigUInt64LE(s.get('.xen_prstatus')!.offset + VcpuGuestContext.userRegs + CpuUserRegs.rbx))).toBe(0x1234_5678);
    expect(s.get('.xen_pages')!.offset % 4096).toBe(0);
    expect(Buffer.compare(pageOf(bytes, 0x123)!, Buffer.from(pattern))).toBe(0);
    expect(pageOf(bytes, 0x124)!.every((b) => b === 0)).toBe(true);
    // A frame the guest never touched is written as zeros without being backed.
    expect(t.host.memory.isBacked(d.p2m.mfnOf(0x1ff0 as never) as never)).toBe(false);

    expect(d.state).not.toBe('paused');
    settle(t.host, toolstack.destroy(rec.domid));
    rmSync(file);
  });

  it('on_crash=coredump-destroy writes <run dir>/dump/<name> (PV: .xen_p2m pairs), then destroys the domain', () => {
    const rec = settle(t.host, toolstack.create(guest('name = "crashy"\ntype = "pv"\nkernel = "idle"\nmemory = 16\non_crash = "coredump-destroy"\n'))).result!;
    const d = t.host.domains.lookup(rec.domid);
    d.guestMemory.write(guestPhysAddr(0x200 * 4096), new Uint8Array(4096).fill(0x5a));
    const events: string[] = [];
    toolstack.events.once('shutdown', (h) => events.push(`${h.name} ${h.reason} ${h.action}`));
    t.host.domains.shutdown(rec.domid, 'crash');
    for (let i = 0; i < 100 && events.length === 0; i++) t.host.engine.runFor(1e6);
    expect(events).toEqual(['crashy crash coredump-destroy']);
    expect(t.host.domains.get(rec.domid)).toBeUndefined();
    const file = join(t.runDir, 'dump', 'crashy');
    expect(existsSync(file)).toBe(true);
    const bytes = readFileSync(file);
    const s = sections(bytes);
    expect(s.has('.xen_p2m')).toBe(true);
    expect(s.has('.xen_pfn')).toBe(false);
    expect(Number(bytes.readBigUInt64LE(s.get('.note.Xen')!.offset + 32))).toBe(XC_CORE_MAGIC);
    expect(pageOf(bytes, 0x200)!.every((b) => b === 0x5a)).toBe(true);
    expect(readelf(['-S'], file)).toContain('.xen_p2m');
  });

  it('on_crash=coredump-restart dumps, then builds the domain again', () => {
    const rec = settle(t.host, toolstack.create(guest('name = "phoenix"\ntype = "pvh"\nkernel = "idle"\nmemory = 16\non_crash = "coredump-restart"\n'))).result!;
    let newDomid: number | undefined;
    toolstack.events.once('shutdown', (h) => (newDomid = h.newDomid));
    t.host.domains.shutdown(rec.domid, 'crash');
    for (let i = 0; i < 100 && newDomid === undefined; i++) t.host.engine.runFor(1e6);
    expect(newDomid).toBeDefined();
    expect(toolstack.get(newDomid!)?.name).toBe('phoenix');
    expect(existsSync(join(t.runDir, 'dump', 'phoenix'))).toBe(true);
    settle(t.host, toolstack.destroy(newDomid!));
  });

  it('refuses Dom0 and unknown domains', () => {
    expect(settle(t.host, toolstack.dumpCore(0, join(t.runDir, 'x'))).error?.message).toMatch(/domain 0/);
    expect(settle(t.host, toolstack.dumpCore(999, join(t.runDir, 'x'))).error?.message).toMatch(/does not exist/);
  });
});
