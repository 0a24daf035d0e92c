/** A domain's shared-info page and its vcpu_info locations. */
import type { SharedInfoPage, VcpuInfoLocation } from '../api/domain.js';
import { GuestError } from '../api/errors.js';
import { SharedInfo, VcpuInfo, XEN_LEGACY_MAX_VCPUS } from '../public/shared-info.js';
import type { DomId, MachineFrame } from '../public/types.js';

function location(bytes: Uint8Array, offset: number): VcpuInfoLocation {
  return { bytes, offset, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

export class SharedInfoPageImpl implements SharedInfoPage {
  readonly view: DataView;
  private readonly locations: VcpuInfoLocation[] = [];
  /** vCPUs that registered their own vcpu_info (made by the first: most guests never do). */
  private registered: Set<number> | undefined;

  constructor(
    readonly domid: DomId,
    readonly mfn: MachineFrame,
    readonly bytes: Uint8Array,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  vcpuInfo(vcpu: number): VcpuInfoLocation {
    let loc = this.locations[vcpu];
    if (loc === undefined) {
      // Below 32 the record is in this page; above, a private dummy until the guest registers one (as Xen does).
      loc = vcpu < XEN_LEGACY_MAX_VCPUS ? location(this.bytes, SharedInfo.vcpuInfo + vcpu * VcpuInfo.size) : location(new Uint8Array(VcpuInfo.size), 0);
      this.locations[vcpu] = loc;
    }
    return loc;
  }

  registerVcpuInfo(vcpu: number, bytes: Uint8Array, offset: number): void {
    if (this.registered?.has(vcpu)) throw new GuestError('EINVAL', `vcpu${vcpu} already registered its vcpu_info`, { domid: this.domid });
    if (!(offset >= 0 && offset + VcpuInfo.size <= bytes.length)) throw new GuestError('EINVAL', `vcpu_info at offset ${offset} crosses its page`, { domid: this.domid });
    const old = this.vcpuInfo(vcpu);
    bytes.set(old.bytes.subarray(old.offset, old.offset + VcpuInfo.size), offset);
    this.locations[vcpu] = location(bytes, offset);
    (this.registered ??= new Set()).add(vcpu);
  }

  hasRegisteredVcpuInfo(vcpu: number): boolean {
    return this.registered?.has(vcpu) ?? false;
  }
}
