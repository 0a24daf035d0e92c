/**
 * Upcall delivery (Xen's vcpu_mark_events_pending): PV vCPUs are kicked; HVM ones get the callback of
 * HVM_PARAM_CALLBACK_IRQ (GSI, PCI INTx, vector) or their per-vCPU upcall vector, through an HvmIrqSink.
 */
import type { Domain, SharedInfoPage } from '../api/domain.js';
import type { HvmIrqSink } from '../api/event-channel.js';
import { HVM_PARAM, HVM_PARAM_CALLBACK_TYPE, HVM_PARAM_CALLBACK_TYPE_SHIFT } from '../public/hvm.js';
import { VcpuInfo } from '../public/shared-info.js';

/** GSIs of an HVM domain's emulated IO-APIC (Xen's VIOAPIC_NUM_PINS); a callback GSI must be 1..47. */
export const HVM_NR_GSIS = 48;

/** A decoded HVM_PARAM_CALLBACK_IRQ (Xen's `callback_via_type` and `callback_via`). */
export type CallbackVia =
  | { readonly type: 'none' }
  | { readonly type: 'gsi'; readonly gsi: number }
  | { readonly type: 'pci-intx'; readonly bus: number; readonly devfn: number; readonly pin: number }
  | { readonly type: 'vector'; readonly vector: number };

const NONE: CallbackVia = { type: 'none' };

/** Decodes HVM_PARAM_CALLBACK_IRQ as Xen's hvm_set_callback_via does (a GSI is the low byte; 0 or ≥ 48 disables). */
export function decodeCallbackVia(value: bigint): CallbackVia {
  const type = Number(BigInt.asUintN(64, value) >> HVM_PARAM_CALLBACK_TYPE_SHIFT);
  const low = Number(BigInt.asUintN(48, value));
  switch (type) {
    case HVM_PARAM_CALLBACK_TYPE.GSI: {
      const gsi = low & 0xff;
      return value === 0n || gsi === 0 || gsi >= HVM_NR_GSIS ? NONE : { type: 'gsi', gsi };
    }
    case HVM_PARAM_CALLBACK_TYPE.PCI_INTX:
      return { type: 'pci-intx', bus: Math.floor(low / 0x10000) & 0xffff, devfn: (low >> 8) & 0xff, pin: low & 3 };
    case HVM_PARAM_CALLBACK_TYPE.VECTOR:
      return { type: 'vector', vector: low & 0xff };
    default:
      return NONE;
  }
}

/** One request a {@link RecordingHvmIrqSink} received. */
export type HvmIrqCall =
  | { readonly kind: 'gsi'; readonly gsi: number; readonly high: boolean }
  | { readonly kind: 'pci-intx'; readonly bus: number; readonly devfn: number; readonly pin: number; readonly high: boolean }
  | { readonly kind: 'vector'; readonly vcpu: number; readonly vector: number };

/** The default sink while HVM interrupt controllers do not exist: records levels and the last requests, kicks the vCPU for vectors. */
export class RecordingHvmIrqSink implements HvmIrqSink {
  /** The last {@link RecordingHvmIrqSink.limit} requests, oldest first. */
  readonly calls: HvmIrqCall[] = [];
  injections = 0;
  /** Made by the first level set: a domain whose platform installs its own sink never drives this one. */
  private levels: { gsi: Map<number, boolean>; pciIntx: Map<string, boolean> } | undefined;

  constructor(
    /** Whose vCPUs a vector kicks. */
    private readonly domain: Pick<Domain, 'vcpus'>,
    readonly limit = 256,
  ) {}

  get gsiLevels(): Map<number, boolean> {
    return (this.levels ??= { gsi: new Map(), pciIntx: new Map() }).gsi;
  }

  /** Keyed `bus:devfn:pin`. */
  get pciIntxLevels(): Map<string, boolean> {
    return (this.levels ??= { gsi: new Map(), pciIntx: new Map() }).pciIntx;
  }

  setGsiLevel(gsi: number, high: boolean): void {
    this.gsiLevels.set(gsi, high);
    this.push({ kind: 'gsi', gsi, high });
  }

  setPciIntxLevel(bus: number, devfn: number, pin: number, high: boolean): void {
    this.pciIntxLevels.set(`${bus}:${devfn}:${pin}`, high);
    this.push({ kind: 'pci-intx', bus, devfn, pin, high });
  }

  injectVector(vcpu: number, vector: number): void {
    this.injections++;
    this.push({ kind: 'vector', vcpu, vector });
    this.domain.vcpus[vcpu]?.kick();
  }

  private push(call: HvmIrqCall): void {
    if (this.calls.length >= this.limit) this.calls.shift();
    this.calls.push(call);
  }
}

/** One domain's upcall path. */
export class UpcallDelivery {
  readonly hvm: boolean;
  /** Xen's `evtchn_upcall_vector` per vCPU (0 = none); made by the first HVMOP_set_evtchn_upcall_vector. */
  private upcallVectors: Uint8Array | undefined;
  readonly defaultSink: RecordingHvmIrqSink;
  sink: HvmIrqSink;
  via: CallbackVia = NONE;
  /** Xen's `callback_via_asserted`: vCPU 0's upcall_pending as last propagated to the line. */
  asserted = false;

  constructor(
    readonly domain: Domain,
    readonly shared: SharedInfoPage,
  ) {
    this.hvm = domain.mode !== 'pv';
    this.defaultSink = new RecordingHvmIrqSink(domain);
    this.sink = this.defaultSink;
  }

  /** Xen's `vcpu_mark_events_pending`: sets upcall_pending; when it was clear, kicks (PV) or asserts the callback (HVM). */
  markEventsPending(vcpu: number): void {
    const loc = this.shared.vcpuInfo(vcpu);
    const at = loc.offset + VcpuInfo.evtchnUpcallPending;
    if ((loc.bytes[at]! & 1) !== 0) return;
    loc.bytes[at] = loc.bytes[at]! | 1;
    if (this.hvm) this.assertEvtchnIrq(vcpu);
    else this.domain.vcpus[vcpu]?.kick();
  }

  /** Xen's `hvm_assert_evtchn_irq`: the vCPU's upcall vector, else the callback vector, else (vCPU 0) the callback line. */
  assertEvtchnIrq(vcpu: number): void {
    const vector = this.upcallVectors?.[vcpu] ?? 0;
    if (vector !== 0) this.sink.injectVector(vcpu, vector);
    else if (this.via.type === 'vector') this.sink.injectVector(vcpu, this.via.vector);
    else if (vcpu === 0) this.setCallbackIrqLevel();
  }

  /** Xen's `hvm_set_callback_irq_level`: the line follows vCPU 0's upcall_pending. */
  setCallbackIrqLevel(): void {
    const high = this.upcallPending(0);
    if (high === this.asserted) return;
    this.asserted = high;
    this.drive(this.sink, high);
  }

  /** Xen's `hvm_maybe_deassert_evtchn_irq`. */
  maybeDeassert(): void {
    if (this.asserted && !this.upcallPending(0)) this.setCallbackIrqLevel();
  }

  /** Xen's `hvm_set_callback_via`: moves an asserted line to the new via, then delivers what is pending. */
  setCallbackVia(value: bigint): void {
    if (this.asserted) this.drive(this.sink, false);
    this.via = decodeCallbackVia(value);
    if (this.asserted) this.drive(this.sink, true);
    this.deliverPending();
  }

  setUpcallVector(vcpu: number, vector: number): void {
    (this.upcallVectors ??= new Uint8Array(this.domain.vcpus.length))[vcpu] = vector;
    if (this.upcallPending(vcpu)) this.assertEvtchnIrq(vcpu);
  }

  setSink(sink: HvmIrqSink | null): void {
    const next = sink ?? this.defaultSink;
    if (next === this.sink) return;
    if (this.asserted) this.drive(this.sink, false);
    this.sink = next;
    if (this.asserted) this.drive(next, true);
  }

  /** What SCHEDOP_block/HLT check: an upcall is pending and not masked. On vCPU 0 it also lets the callback line drop. */
  hasPending(vcpu: number): boolean {
    if (vcpu === 0 && this.asserted) this.maybeDeassert();
    const loc = this.shared.vcpuInfo(vcpu);
    return loc.bytes[loc.offset + VcpuInfo.evtchnUpcallPending] !== 0 && loc.bytes[loc.offset + VcpuInfo.evtchnUpcallMask] === 0;
  }

  /** HVM_PARAM_CALLBACK_IRQ changed (the params' `changed` event). */
  paramChanged(index: number, value: bigint): void {
    if (index === HVM_PARAM.CALLBACK_IRQ) this.setCallbackVia(value);
  }

  /** Drops an asserted line (domain teardown). */
  dispose(): void {
    if (this.asserted) this.drive(this.sink, false);
    this.asserted = false;
  }

  private deliverPending(): void {
    if (!this.hvm) return;
    for (let v = 0; v < this.domain.vcpus.length; v++) if (this.upcallPending(v)) this.assertEvtchnIrq(v);
  }

  private upcallPending(vcpu: number): boolean {
    const loc = this.shared.vcpuInfo(vcpu);
    return loc.bytes[loc.offset + VcpuInfo.evtchnUpcallPending] !== 0;
  }

  private drive(sink: HvmIrqSink, high: boolean): void {
    const via = this.via;
    if (via.type === 'gsi') sink.setGsiLevel(via.gsi, high);
    else if (via.type === 'pci-intx') sink.setPciIntxLevel(via.bus, via.devfn, via.pin, high);
  }
}
