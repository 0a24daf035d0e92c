/**
 * The hypervisor-side state every domain gets at creation — its P2M and guest-memory view, its
 * shared-info page, its HVM params, each vCPU's guest access — kept by domid and released when the
 * domain is destroyed.
 */
import type { Domain } from '../api/domain.js';
import type { PagingModes } from '../api/memory.js';
import type { Engine } from '../engine/engine.js';
import { EptP2m, DomainGuestMemory, type HostMachineMemory } from '../memory/index.js';
import { Mmu, VcpuGuestAccess, type MmuOptions, type MmuSource } from '../mmu/index.js';
import { SharedInfoPageImpl, HvmParamsImpl, type DomainImpl } from '../domain/index.js';
import type { VcpuImpl } from '../cpu/index.js';

export class DomainStateTable {
  private readonly p2ms = new Map<number, EptP2m>();
  private readonly sharedInfos = new Map<number, SharedInfoPageImpl>();
  private readonly params = new Map<number, HvmParamsImpl>();
  private readonly access = new Map<number, VcpuGuestAccess[]>();

  constructor(
    private readonly engine: Engine,
    private readonly memory: HostMachineMemory,
    private readonly pagingModes: PagingModes,
    /** The paging mode of HVM and PVH guests (the definition's `paging`). */
    private readonly hvmPaging: string,
  ) {}

  p2mOf(domid: number): EptP2m | undefined {
    return this.p2ms.get(domid);
  }
  sharedInfoOf(domid: number): SharedInfoPageImpl | undefined {
    return this.sharedInfos.get(domid);
  }
  hvmParamsOf(domid: number): HvmParamsImpl | undefined {
    return this.params.get(domid);
  }
  guestAccessOf(domid: number, vcpu: number): VcpuGuestAccess | undefined {
    return this.access.get(domid)?.[vcpu];
  }

  /**
   * Makes a new domain's state and gives it to the domain (which also registers it in its container, if it makes one). The shared-info page is a
   * frame the domain owns outside its reservation, as Xen's xenheap page is.
   */
  attach(d: Domain): void {
    const p2m = new EptP2m(this.memory, d.domid);
    const phys = new DomainGuestMemory(this.memory, p2m);
    const [sharedMfn] = this.memory.allocate(d.domid, 1);
    const shared = new SharedInfoPageImpl(d.domid, sharedMfn!, this.memory.frameBytes(sharedMfn!));
    const params = new HvmParamsImpl(d.domid);
    this.p2ms.set(d.domid, p2m);
    this.sharedInfos.set(d.domid, shared);
    this.params.set(d.domid, params);
    (d as DomainImpl).attachState({ p2m, guestMemory: phys, sharedInfo: shared, hvmParams: params });
    const mode = this.pagingModes.get(d.mode === 'pv' ? 'pv-direct' : this.hvmPaging);
    const cost = this.engine.cost;
    const mmu = new DomainMmus({ domid: d.domid, memory: this.memory, mode, p2m, cost, engine: this.engine });
    this.access.set(
      d.domid,
      (d.vcpus as VcpuImpl[]).map((v) => {
        const a = new VcpuGuestAccess({ domid: d.domid, vcpu: v.vcpuId, regs: v.context, phys, cost, payer: v, mmu });
        v.guest = a;
        return a;
      }),
    );
  }

  /** Releases a destroyed domain's state; its P2M's table frames go back to the host. */
  detach(domid: number): void {
    for (const a of this.access.get(domid) ?? []) a.dispose();
    this.access.delete(domid);
    this.sharedInfos.delete(domid);
    this.params.delete(domid);
    this.p2ms.get(domid)?.destroy();
    this.p2ms.delete(domid);
  }
}

/** Makes a domain's vCPU MMUs, each on its vCPU's first paged access. */
class DomainMmus implements MmuSource {
  constructor(private readonly options: Omit<MmuOptions, 'vcpu'>) {}

  makeMmu(vcpu: number): Mmu {
    return new Mmu({ ...this.options, vcpu });
  }
}
