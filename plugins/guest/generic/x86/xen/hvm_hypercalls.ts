/**
 * The hypercalls only an HVM/PVHVM kernel makes, beyond dev/xen/hypervisor.ts and xen_ops.ts (FreeBSD's
 * x86/xen/hvm.c): XENVER_get_features, HVMOP_set_param, the per-vCPU upcall vector. Argument structs go
 * in a page of guest memory the kernel reserved for them, as a real kernel passes them.
 */
import type { VcpuApi } from '../../../../../core/api/index.js';
import {
  DOMID_SELF, HVMOP, Hypercall, XENVER, XenFeatureInfo, XenHvmEvtchnUpcallVector, XenHvmParam,
} from '../../../../../core/public/index.js';
import { HypercallError } from '../../dev/xen/hypervisor.js';

export class HvmHypercalls {
  /** Hypercalls made, by name (what the timer-cost comparison counts). */
  readonly made = new Map<string, number>();

  /** `page`: guest-physical address of a page reserved for argument structs. */
  constructor(
    private readonly v: VcpuApi,
    private readonly page: number,
  ) {}

  private call(op: string, nr: number, a0: number, a1 = 0, a2 = 0): number {
    this.made.set(op, (this.made.get(op) ?? 0) + 1);
    const rc = this.v.hypercall(nr, a0, a1, a2);
    if (rc < 0) throw new HypercallError(op, rc);
    return rc;
  }

  private clear(size: number): number {
    this.v.memory.write(this.page, new Uint8Array(size));
    return this.page;
  }

  /** XENVER_get_features, submap 0: the XENFEAT_* bits. */
  features(): number {
    const at = this.clear(XenFeatureInfo.size);
    this.call('xen_version(get_features)', Hypercall.xen_version, XENVER.get_features, at);
    return this.v.memory.readU32(at + XenFeatureInfo.submap);
  }

  /** HVMOP_set_param on ourselves. */
  setParam(index: number, value: bigint): void {
    const at = this.clear(XenHvmParam.size);
    this.v.memory.writeU16(at + XenHvmParam.domid, DOMID_SELF);
    this.v.memory.writeU32(at + XenHvmParam.index, index);
    this.v.memory.writeU64Big(at + XenHvmParam.value, value);
    this.call(`hvm_op(set_param ${index})`, Hypercall.hvm_op, HVMOP.set_param, at);
  }

  /** HVMOP_set_evtchn_upcall_vector: events for `vcpu` arrive as `vector` through its local APIC. */
  setEvtchnUpcallVector(vcpu: number, vector: number): void {
    const at = this.clear(XenHvmEvtchnUpcallVector.size);
    this.v.memory.writeU32(at + XenHvmEvtchnUpcallVector.vcpu, vcpu);
    this.v.memory.writeU8(at + XenHvmEvtchnUpcallVector.vector, vector);
    this.call('hvm_op(set_evtchn_upcall_vector)', Hypercall.hvm_op, HVMOP.set_evtchn_upcall_vector, at);
  }
}
