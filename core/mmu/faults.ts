/** The faults a translation can raise: a guest #PF, a second-stage (nested) fault, a non-canonical #GP. */
import { XenoError } from '../api/errors.js';
import { Access } from '../api/memory.js';
import { formatVaddr } from './address.js';
import { p2mTypeName } from '../memory/p2m.js';

function accessName(access: number): string {
  const what = access & Access.exec ? 'instruction fetch' : access & Access.write ? 'write' : 'read';
  return access & Access.user ? `user ${what}` : what;
}

/**
 * A guest page fault (#PF, vector 14): delivered to the guest with `errorCode` and CR2 = `vaddr`.
 * `level` is the paging level (4..1) whose entry stopped the walk.
 */
export class PageFault extends XenoError {
  constructor(
    /** The faulting linear address, folded to 48 bits (see `unfoldCanonical` for CR2). */
    readonly vaddr: number,
    /** PFEC_* bits. */
    readonly errorCode: number,
    readonly level: number,
    readonly reason: string,
    readonly domid: number,
    readonly vcpu: number,
  ) {
    super('page-fault', `L${level} entry ${reason} (error code 0x${errorCode.toString(16)})`, { domid });
    this.message = `page fault at ${formatVaddr(vaddr)} (dom${domid} vcpu${vcpu}): ${this.detail}`;
  }
}

/**
 * A second-stage fault: the P2M (EPT or the shadow code's software lookup) refused a guest-physical
 * access. Not a guest #PF but a VM exit the hypervisor handles (Xen's `hvm_hap_nested_page_fault`):
 * emulate MMIO, mark a page dirty, or crash the domain.
 */
export class NestedPageFault extends XenoError {
  constructor(
    readonly gpa: number,
    /** The linear address whose translation needed `gpa`, folded to 48 bits. */
    readonly vaddr: number,
    /** Access bits of the refused access (a guest page-table read is `read`, an A/D update `write`). */
    readonly access: number,
    /** The p2m type found; `P2mType.invalid` when nothing is mapped. */
    readonly p2mType: number,
    /** Guest paging level whose table read failed, or 0 for the final access. */
    readonly level: number,
    readonly domid: number,
    readonly vcpu: number,
  ) {
    const what = level > 0 ? `${accessName(access)} of the L${level} guest page table` : accessName(access);
    super('nested-page-fault', `${what} refused by the p2m (${p2mTypeName(p2mType)})`, { domid });
    this.message = `nested page fault at gpa 0x${gpa.toString(16)} for ${formatVaddr(vaddr)} (dom${domid} vcpu${vcpu}): ${this.detail}`;
  }
}

/** A #GP raised by a non-canonical linear address. */
export class NonCanonicalAddress extends XenoError {
  constructor(
    readonly vaddr: number,
    readonly domid: number,
    readonly vcpu: number,
  ) {
    super('general-protection', `non-canonical address ${String(vaddr)}`, { domid });
    this.message = `general protection fault (dom${domid} vcpu${vcpu}): ${this.detail}`;
  }
}
