/**
 * The hypercalls beyond boot (FreeBSD's xen/hypervisor.h, xen/evtchn, xen/balloon): event-channel
 * binding, vCPU operations, the singleshot timer and memory reservations. Like {@link Hypervisor}, each
 * writes its argument struct into a page of guest memory the calling CPU owns and passes its address;
 * a hypercall is always made by the vCPU it names where Xen requires that (timers, time areas).
 */
import type { VcpuApi, VcpuRequest } from '../../../../../core/api/index.js';
import {
  DOMID_SELF,
  EVTCHNOP,
  EvtchnAllocUnbound,
  EvtchnBindInterdomain,
  EvtchnBindIpi,
  EvtchnBindVirq,
  EvtchnClose,
  EvtchnUnmask,
  EvtchnReset,
  GNTTABOP,
  GnttabSetupTable,
  Hypercall,
  PAGE_SIZE,
  SCHEDOP,
  SHUTDOWN,
  VCPUOP,
  VcpuSetSingleshotTimer,
  XENMEM,
  XenMemoryDomain,
  XenMemoryReservation,
} from '../../../../../core/public/index.js';
import { checked, HypercallError } from './hypervisor.js';

/** Layout of the page: the argument struct, set_singleshot's own, then an extent list for memory reservations. */
const ARG = 0;
/** VCPUOP_set_singleshot_timer's struct, apart from the other calls' so that its flags stay written. */
const SINGLESHOT = 0x80;
const EXTENTS = 0x100;
/** Frames one reservation call can carry on the page. */
export const MAX_EXTENTS_PER_CALL = (PAGE_SIZE - EXTENTS) / 8;

export class XenOps {
  private singleshotFlagsWritten = false;

  /** `page`: guest address of a page this CPU reserved for hypercall arguments. */
  constructor(
    private readonly v: VcpuApi,
    private readonly page: number,
  ) {}

  private zero(size: number): number {
    const at = this.page + ARG;
    this.v.memory.write(at, new Uint8Array(size));
    return at;
  }

  private evtchnOp(name: string, cmd: number, at: number): void {
    checked(`event_channel_op(${name})`, this.v.hypercall(Hypercall.event_channel_op, cmd, at));
  }

  /** EVTCHNOP_bind_virq: `virq` of vCPU `vcpu` on a fresh port. */
  bindVirq(virq: number, vcpu: number): number {
    const at = this.zero(EvtchnBindVirq.size);
    this.v.memory.writeU32(at + EvtchnBindVirq.virq, virq);
    this.v.memory.writeU32(at + EvtchnBindVirq.vcpu, vcpu);
    this.evtchnOp(`bind_virq ${virq}`, EVTCHNOP.bind_virq, at);
    return this.v.memory.readU32(at + EvtchnBindVirq.port);
  }

  /** EVTCHNOP_bind_ipi: a port whose events go to vCPU `vcpu`. */
  bindIpi(vcpu: number): number {
    const at = this.zero(EvtchnBindIpi.size);
    this.v.memory.writeU32(at + EvtchnBindIpi.vcpu, vcpu);
    this.evtchnOp('bind_ipi', EVTCHNOP.bind_ipi, at);
    return this.v.memory.readU32(at + EvtchnBindIpi.port);
  }

  /** EVTCHNOP_alloc_unbound: a port `remoteDom` may bind to. */
  allocUnbound(remoteDom: number): number {
    const at = this.zero(EvtchnAllocUnbound.size);
    this.v.memory.writeU16(at + EvtchnAllocUnbound.dom, DOMID_SELF);
    this.v.memory.writeU16(at + EvtchnAllocUnbound.remoteDom, remoteDom);
    this.evtchnOp('alloc_unbound', EVTCHNOP.alloc_unbound, at);
    return this.v.memory.readU32(at + EvtchnAllocUnbound.port);
  }

  /** EVTCHNOP_bind_interdomain: connects a local port to `remotePort` of `remoteDom`. */
  bindInterdomain(remoteDom: number, remotePort: number): number {
    const at = this.zero(EvtchnBindInterdomain.size);
    this.v.memory.writeU32(at + EvtchnBindInterdomain.remoteDom, remoteDom);
    this.v.memory.writeU32(at + EvtchnBindInterdomain.remotePort, remotePort);
    this.evtchnOp('bind_interdomain', EVTCHNOP.bind_interdomain, at);
    return this.v.memory.readU32(at + EvtchnBindInterdomain.localPort);
  }

  /** EVTCHNOP_close. */
  close(port: number): void {
    const at = this.zero(EvtchnClose.size);
    this.v.memory.writeU32(at + EvtchnClose.port, port);
    this.evtchnOp(`close ${port}`, EVTCHNOP.close, at);
  }

  /** EVTCHNOP_unmask. */
  unmask(port: number): void {
    const at = this.zero(EvtchnUnmask.size);
    this.v.memory.writeU32(at + EvtchnUnmask.port, port);
    this.evtchnOp(`unmask ${port}`, EVTCHNOP.unmask, at);
  }

  /** EVTCHNOP_reset on ourselves: closes every port. */
  reset(): void {
    const at = this.zero(EvtchnReset.size);
    this.v.memory.writeU16(at + EvtchnReset.dom, DOMID_SELF);
    this.evtchnOp('reset', EVTCHNOP.reset, at);
  }

  /** vcpu_op(cmd, vcpu, arg): the raw result, errors thrown. */
  vcpuOp(name: string, cmd: number, vcpu: number, arg = 0): number {
    const rc = this.v.hypercall(Hypercall.vcpu_op, cmd, vcpu, arg);
    // (The name is made only on failure: the timer comes here every tick.)
    if (rc < 0) throw new HypercallError(`vcpu_op(${name}, vcpu${vcpu})`, rc);
    return rc;
  }

  /** VCPUOP_is_up: true/false, or undefined when there is no such vCPU (−ENOENT). */
  isUp(vcpu: number): boolean | undefined {
    const rc = this.v.hypercall(Hypercall.vcpu_op, VCPUOP.is_up, vcpu, 0);
    return rc < 0 ? undefined : rc === 1;
  }

  /** VCPUOP_set_singleshot_timer on the caller: fires VIRQ_TIMER at system time `deadline` (ns). */
  setSingleshot(deadline: number): void {
    const at = this.page + SINGLESHOT;
    this.v.memory.writeU64(at + VcpuSetSingleshotTimer.timeoutAbsNs, Math.floor(deadline));
    if (!this.singleshotFlagsWritten) {
      this.v.memory.writeU32(at + VcpuSetSingleshotTimer.flags, 0);
      this.singleshotFlagsWritten = true;
    }
    this.vcpuOp('set_singleshot_timer', VCPUOP.set_singleshot_timer, this.v.vcpuId, at);
  }

  /** Registers a per-vCPU area (runstate, time) at guest address `addr` (the struct is one u64). */
  registerArea(name: string, cmd: number, vcpu: number, addr: number): void {
    const at = this.zero(8);
    this.v.memory.writeU64(at, addr);
    this.vcpuOp(name, cmd, vcpu, at);
  }

  /**
   * XENMEM_decrease_reservation / populate_physmap of order-0 extents `frames` (at most
   * {@link MAX_EXTENTS_PER_CALL}); returns how many extents Xen handled and the extent list after the
   * call (populate_physmap writes a PV guest's new machine frames there).
   */
  reservation(op: 'decrease_reservation' | 'populate_physmap', frames: readonly number[]): { done: number; out: number[] } {
    if (frames.length > MAX_EXTENTS_PER_CALL) throw new Error(`${op}: ${frames.length} extents do not fit the hypercall page`);
    const at = this.zero(XenMemoryReservation.size);
    const list = this.page + EXTENTS;
    frames.forEach((f, i) => this.v.memory.writeU64(list + i * 8, f));
    this.v.memory.writeU64(at + XenMemoryReservation.extentStart, list);
    this.v.memory.writeU64(at + XenMemoryReservation.nrExtents, frames.length);
    this.v.memory.writeU16(at + XenMemoryReservation.domid, DOMID_SELF);
    const done = checked(`memory_op(${op})`, this.v.hypercall(Hypercall.memory_op, XENMEM[op], at));
    return { done, out: frames.map((_, i) => this.v.memory.readU64(list + i * 8)) };
  }

  /**
   * SCHEDOP_shutdown(SHUTDOWN_suspend) (FreeBSD's HYPERVISOR_suspend, the "suspend cancel" ABI): returns
   * when the domain runs again, 1 when the toolstack cancelled the suspend (same domain), 0 when it
   * was resumed in a new domain. A PV guest passes its start_info frame as the third argument.
   */
  *suspend(startInfoMfn: number): Generator<VcpuRequest, number, unknown> {
    const at = this.zero(4);
    this.v.memory.writeU32(at, SHUTDOWN.suspend);
    return checked('sched_op(shutdown suspend)', yield* this.v.hypercallBlocking(Hypercall.sched_op, SCHEDOP.shutdown, at, startInfoMfn));
  }

  /** GNTTABOP_setup_table on ourselves: grows the grant table to `nrFrames` and returns their frames (MFNs for PV). */
  gnttabSetupTable(nrFrames: number): number[] {
    if (nrFrames > MAX_EXTENTS_PER_CALL) throw new Error(`setup_table: ${nrFrames} frames do not fit the hypercall page`);
    const at = this.zero(GnttabSetupTable.size);
    const list = this.page + EXTENTS;
    this.v.memory.writeU16(at + GnttabSetupTable.dom, DOMID_SELF);
    this.v.memory.writeU32(at + GnttabSetupTable.nrFrames, nrFrames);
    this.v.memory.writeU64(at + GnttabSetupTable.frameList, list);
    checked('grant_table_op(setup_table)', this.v.hypercall(Hypercall.grant_table_op, GNTTABOP.setup_table, at, 1));
    const status = (this.v.memory.readU16(at + GnttabSetupTable.status) << 16) >> 16;
    if (status !== 0) throw new Error(`grant_table_op(setup_table): status ${status}`);
    return Array.from({ length: nrFrames }, (_, i) => this.v.memory.readU64(list + i * 8));
  }

  /** XENMEM_current_reservation: our tot_pages. */
  currentReservation(): number {
    const at = this.zero(XenMemoryDomain.size);
    this.v.memory.writeU16(at + XenMemoryDomain.domid, DOMID_SELF);
    return checked('memory_op(current_reservation)', this.v.hypercall(Hypercall.memory_op, XENMEM.current_reservation, at));
  }
}
