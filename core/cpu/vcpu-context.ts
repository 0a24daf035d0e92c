/** The register state of an x86-64 vCPU, with snapshot/restore as a typed, versioned record. */

/** The sixteen general-purpose registers, in encoding order. */
export const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
export type GprName = (typeof GPR_NAMES)[number];

/** Segment registers held as hidden descriptor caches (selector plus the cached base/limit/attributes). */
export const SEGMENT_NAMES = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldtr'] as const;
export type SegmentName = (typeof SEGMENT_NAMES)[number];

/** A segment register: the visible selector and its descriptor cache. `attributes` packs type/S/DPL/P/AVL/L/D/G as VMX does (bits 0..15). */
export interface SegmentRegister {
  selector: number;
  base: number;
  limit: number;
  attributes: number;
}

/** GDTR / IDTR. */
export interface DescriptorTableRegister {
  base: number;
  limit: number;
}

/** Current version of {@link VcpuContextRecord}. Bump it (and keep reading the old one) when the layout changes. */
export const VCPU_CONTEXT_VERSION = 1;

/**
 * A saved vCPU register state: named fields, never positional. MSRs are keyed by their index in hex
 * (`"0xc0000080"`). Numbers hold register values; the simulation keeps them within 2^53.
 */
export interface VcpuContextRecord {
  readonly version: typeof VCPU_CONTEXT_VERSION;
  readonly gprs: Readonly<Record<GprName, number>>;
  readonly rip: number;
  readonly rflags: number;
  readonly cr0: number;
  readonly cr2: number;
  readonly cr3: number;
  readonly cr4: number;
  readonly efer: number;
  readonly segments: Readonly<Record<SegmentName, Readonly<SegmentRegister>>>;
  readonly gdtr: Readonly<DescriptorTableRegister>;
  readonly idtr: Readonly<DescriptorTableRegister>;
  readonly msrs: Readonly<Record<string, number>>;
}

/** Architectural MSR numbers the core knows by name. */
export const MSR = {
  IA32_EFER: 0xc0000080,
  IA32_STAR: 0xc0000081,
  IA32_LSTAR: 0xc0000082,
  IA32_FS_BASE: 0xc0000100,
  IA32_GS_BASE: 0xc0000101,
  IA32_KERNEL_GS_BASE: 0xc0000102,
  IA32_TSC: 0x10,
  IA32_APIC_BASE: 0x1b,
  IA32_PAT: 0x277,
} as const;

const RFLAGS_RESERVED_1 = 0x2;

function resetSegment(): SegmentRegister {
  return { selector: 0, base: 0, limit: 0xffff, attributes: 0x93 };
}

/**
 * The register file of one vCPU. Fields are plain and mutable (the guest and the core write them
 * directly); {@link VcpuContext.snapshot} and {@link VcpuContext.restore} move it to and from a record.
 */
export class VcpuContext {
  rax = 0;
  rcx = 0;
  rdx = 0;
  rbx = 0;
  rsp = 0;
  rbp = 0;
  rsi = 0;
  rdi = 0;
  r8 = 0;
  r9 = 0;
  r10 = 0;
  r11 = 0;
  r12 = 0;
  r13 = 0;
  r14 = 0;
  r15 = 0;
  rip = 0;
  rflags = RFLAGS_RESERVED_1;
  cr2 = 0;
  /**
   * Bumped on every write of CR0, CR3, CR4 or EFER: whoever keeps state derived from them (a vCPU's
   * guest access, its MMU brought in step) compares one small integer per access instead of four
   * registers (values past 2^31 — CR0 with PG, most CR3s — are boxed numbers, each a load of its own).
   */
  controlEpoch = 0;
  private cr0Value = 0;
  private cr3Value = 0;
  private cr4Value = 0;
  private eferValue = 0;

  get cr0(): number {
    return this.cr0Value;
  }
  set cr0(value: number) {
    this.cr0Value = value;
    this.controlEpoch++;
  }
  get cr3(): number {
    return this.cr3Value;
  }
  set cr3(value: number) {
    this.cr3Value = value;
    this.controlEpoch++;
  }
  get cr4(): number {
    return this.cr4Value;
  }
  set cr4(value: number) {
    this.cr4Value = value;
    this.controlEpoch++;
  }
  get efer(): number {
    return this.eferValue;
  }
  set efer(value: number) {
    this.eferValue = value;
    this.controlEpoch++;
  }
  readonly cs = resetSegment();
  readonly ds = resetSegment();
  readonly es = resetSegment();
  readonly fs = resetSegment();
  readonly gs = resetSegment();
  readonly ss = resetSegment();
  readonly tr = resetSegment();
  readonly ldtr = resetSegment();
  readonly gdtr: DescriptorTableRegister = { base: 0, limit: 0xffff };
  readonly idtr: DescriptorTableRegister = { base: 0, limit: 0xffff };
  /** MSRs other than EFER, made on the first write: most vCPUs never write one. */
  private msrs: Map<number, number> | undefined;

  constructor() {
    this.reset();
  }

  /** The architectural state after RESET/INIT (Intel SDM vol. 3 §9.1.1): real mode at F000:FFF0. */
  reset(): void {
    for (const name of GPR_NAMES) this[name] = 0;
    this.rdx = 0x600;
    this.rip = 0xfff0;
    this.rflags = RFLAGS_RESERVED_1;
    this.cr0 = 0x60000010;
    this.cr2 = 0;
    this.cr3 = 0;
    this.cr4 = 0;
    this.efer = 0;
    for (const name of SEGMENT_NAMES) Object.assign(this[name], resetSegment());
    Object.assign(this.cs, { selector: 0xf000, base: 0xffff0000, limit: 0xffff, attributes: 0x9b });
    Object.assign(this.tr, { attributes: 0x8b });
    Object.assign(this.ldtr, { attributes: 0x82 });
    Object.assign(this.gdtr, { base: 0, limit: 0xffff });
    Object.assign(this.idtr, { base: 0, limit: 0xffff });
    this.msrs = undefined;
  }

  /** Reads an MSR; an MSR never written reads as 0 (EFER reads the `efer` field). */
  readMsr(index: number): number {
    if (index === MSR.IA32_EFER) return this.efer;
    return this.msrs?.get(index) ?? 0;
  }

  writeMsr(index: number, value: number): void {
    if (index === MSR.IA32_EFER) this.efer = value;
    else (this.msrs ??= new Map()).set(index, value);
  }

  /** A deep copy of the state as a versioned record. */
  snapshot(): VcpuContextRecord {
    const gprs = {} as Record<GprName, number>;
    for (const name of GPR_NAMES) gprs[name] = this[name];
    const segments = {} as Record<SegmentName, SegmentRegister>;
    for (const name of SEGMENT_NAMES) segments[name] = { ...this[name] };
    const msrs: Record<string, number> = {};
    for (const [index, value] of [...(this.msrs ?? [])].sort((a, b) => a[0] - b[0])) msrs[`0x${index.toString(16)}`] = value;
    return {
      version: VCPU_CONTEXT_VERSION,
      gprs,
      rip: this.rip,
      rflags: this.rflags,
      cr0: this.cr0,
      cr2: this.cr2,
      cr3: this.cr3,
      cr4: this.cr4,
      efer: this.efer,
      segments,
      gdtr: { ...this.gdtr },
      idtr: { ...this.idtr },
      msrs,
    };
  }

  /** Loads a record made by {@link VcpuContext.snapshot}. Throws, changing nothing, when it is not a valid record. */
  restore(record: VcpuContextRecord): void {
    const problems = contextRecordProblems(record);
    if (problems.length > 0) throw new RangeError(`vcpu context record: ${problems.join('; ')}`);
    for (const name of GPR_NAMES) this[name] = record.gprs[name];
    this.rip = record.rip;
    this.rflags = record.rflags;
    this.cr0 = record.cr0;
    this.cr2 = record.cr2;
    this.cr3 = record.cr3;
    this.cr4 = record.cr4;
    this.efer = record.efer;
    for (const name of SEGMENT_NAMES) Object.assign(this[name], record.segments[name]);
    Object.assign(this.gdtr, record.gdtr);
    Object.assign(this.idtr, record.idtr);
    this.msrs = undefined;
    for (const [key, value] of Object.entries(record.msrs)) (this.msrs ??= new Map()).set(Number(key), value);
  }

  /** A new context holding `record`. */
  static fromRecord(record: VcpuContextRecord): VcpuContext {
    const ctx = new VcpuContext();
    ctx.restore(record);
    return ctx;
  }
}

const isReg = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER;

/** Everything wrong with a value that claims to be a {@link VcpuContextRecord}; empty when it is one. */
export function contextRecordProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return ['not an object'];
  const r = value as Record<string, unknown>;
  if (r.version !== VCPU_CONTEXT_VERSION) return [`unsupported version ${String(r.version)} (expected ${VCPU_CONTEXT_VERSION})`];
  const problems: string[] = [];
  const gprs = r.gprs as Record<string, unknown> | undefined;
  for (const name of GPR_NAMES) if (!isReg(gprs?.[name])) problems.push(`gprs.${name} must be a register value`);
  for (const name of ['rip', 'rflags', 'cr0', 'cr2', 'cr3', 'cr4', 'efer'] as const) if (!isReg(r[name])) problems.push(`${name} must be a register value`);
  const segs = r.segments as Record<string, Record<string, unknown> | undefined> | undefined;
  for (const name of SEGMENT_NAMES) {
    for (const field of ['selector', 'base', 'limit', 'attributes'] as const) {
      if (!isReg(segs?.[name]?.[field])) problems.push(`segments.${name}.${field} must be a register value`);
    }
  }
  for (const name of ['gdtr', 'idtr'] as const) {
    const t = r[name] as Record<string, unknown> | undefined;
    if (!isReg(t?.base) || !isReg(t?.limit)) problems.push(`${name} must have base and limit`);
  }
  const msrs = r.msrs;
  if (typeof msrs !== 'object' || msrs === null) problems.push('msrs must be an object');
  else for (const [key, v] of Object.entries(msrs)) if (!/^0x[0-9a-f]+$/.test(key) || !isReg(v)) problems.push(`msrs["${key}"] is not a hex index with a register value`);
  return problems;
}
