/**
 * Hypercall wrappers (FreeBSD's xen/hypervisor.h): each writes its argument struct into the kernel's
 * hypercall page of guest memory and passes its address, as a real kernel does.
 */
import type { VcpuApi, VcpuRequest } from '../../../../../core/api/index.js';
import {
  DOMID_SELF,
  EVTCHNOP,
  EvtchnSend,
  HVMOP,
  Hypercall,
  SCHEDOP,
  SHUTDOWN,
  SchedPoll,
  XENMEM,
  XENVER,
  XENVER_SIZE,
  XenAddToPhysmap,
  XenHvmParam,
  errnoName,
  type ShutdownReason,
} from '../../../../../core/public/index.js';

/** A hypercall that failed: its name and Xen's errno. */
export class HypercallError extends Error {
  constructor(
    readonly op: string,
    readonly rc: number,
  ) {
    super(`${op} failed: ${errnoName(rc)} (${rc})`);
    this.name = 'HypercallError';
  }
}

/** A hypercall's result, or a {@link HypercallError} naming `op` when Xen returned −errno. */
export function checked(op: string, rc: number): number {
  if (rc < 0) throw new HypercallError(op, rc);
  return rc;
}

/** Layout of the kernel's hypercall page: one argument struct, SCHEDOP_poll's own, then the poll port list. */
const ARG = 0;
/** SCHEDOP_poll's struct, apart from the other calls' so that it stays written between polls. */
const POLL_ARG = 0x80;
const PORTS = 0x100;
const MAX_POLL_PORTS = (4096 - PORTS) / 4;

export class Hypervisor {
  /** The port list and timeout last written for SCHEDOP_poll (−1: its struct not written yet). */
  private polled: readonly number[] = [];
  private polledTimeout = -1;

  /** `page`: guest address of a page the kernel reserved for hypercall arguments. */
  constructor(
    private readonly v: VcpuApi,
    private readonly page: number,
  ) {}

  /** XENVER_version: `major.minor`. */
  version(): { major: number; minor: number } {
    const rc = checked('xen_version(version)', this.v.hypercall(Hypercall.xen_version, XENVER.version, 0));
    return { major: rc >>> 16, minor: rc & 0xffff };
  }

  /** XENVER_extraversion: e.g. ".0-xenoserver". */
  extraversion(): string {
    const at = this.page + ARG;
    checked('xen_version(extraversion)', this.v.hypercall(Hypercall.xen_version, XENVER.extraversion, at));
    return cString(this.v.memory.read(at, XENVER_SIZE.extraversion));
  }

  /** HVMOP_get_param on ourselves. */
  hvmGetParam(index: number): bigint {
    const at = this.page + ARG;
    this.v.memory.write(at, new Uint8Array(XenHvmParam.size));
    this.v.memory.writeU16(at + XenHvmParam.domid, DOMID_SELF);
    this.v.memory.writeU32(at + XenHvmParam.index, index);
    checked(`hvm_op(get_param ${index})`, this.v.hypercall(Hypercall.hvm_op, HVMOP.get_param, at));
    return this.v.memory.readU64Big(at + XenHvmParam.value);
  }

  /** XENMEM_add_to_physmap on ourselves: frame `idx` of `space` appears at `gpfn`. */
  addToPhysmap(space: number, idx: number, gpfn: number): void {
    const at = this.page + ARG;
    this.v.memory.write(at, new Uint8Array(XenAddToPhysmap.size));
    this.v.memory.writeU16(at + XenAddToPhysmap.domid, DOMID_SELF);
    this.v.memory.writeU32(at + XenAddToPhysmap.space, space);
    this.v.memory.writeU64(at + XenAddToPhysmap.idx, idx);
    this.v.memory.writeU64(at + XenAddToPhysmap.gpfn, gpfn);
    checked('memory_op(add_to_physmap)', this.v.hypercall(Hypercall.memory_op, XENMEM.add_to_physmap, at));
  }

  /** update_va_mapping: the L1 entry mapping `va` becomes `pte` (machine address | flags), then `flags` (UVMF_*) flushes. */
  updateVaMapping(va: number, pte: number, flags: number): void {
    const rc = this.v.hypercall(Hypercall.update_va_mapping, va, pte, flags);
    if (rc < 0) throw new HypercallError(`update_va_mapping(0x${va.toString(16)})`, rc);
  }

  /** EVTCHNOP_send. */
  evtchnSend(port: number): void {
    const at = this.page + ARG;
    this.v.memory.writeU32(at + EvtchnSend.port, port);
    const rc = this.v.hypercall(Hypercall.event_channel_op, EVTCHNOP.send, at);
    // (The name is made only on failure: every notify comes here.)
    if (rc < 0) throw new HypercallError(`event_channel_op(send ${port})`, rc);
  }

  /** SCHEDOP_poll: sleeps until one of `ports` is pending or virtual time `timeout` (ns; 0 = none). */
  *poll(ports: readonly number[], timeout: number): Generator<VcpuRequest, void, unknown> {
    this.startPoll(ports, timeout);
    yield this.v.preempt();
  }

  /**
   * SCHEDOP_poll's hypercall alone: the vCPU blocks at the caller's next `yield v.preempt()` (a plain
   * hypercall that blocks is honoured there), which saves the idle loop a generator per wait.
   */
  startPoll(ports: readonly number[], timeout: number): void {
    if (ports.length > MAX_POLL_PORTS) throw new Error(`poll: ${ports.length} ports do not fit the hypercall page`);
    const at = this.page + POLL_ARG;
    const list = this.page + PORTS;
    // The struct and the list stay on their page between polls (nothing else writes there): a field is
    // rewritten only when it changed.
    const first = this.polledTimeout < 0;
    if (first || !samePorts(this.polled, ports)) {
      const bytes = new Uint8Array(ports.length * 4);
      const view = new DataView(bytes.buffer);
      ports.forEach((p, i) => view.setUint32(i * 4, p, true));
      this.v.memory.write(list, bytes);
      if (first) this.v.memory.writeU64(at + SchedPoll.ports, list);
      this.v.memory.writeU32(at + SchedPoll.nrPorts, ports.length);
      this.polled = ports.slice();
    }
    const due = Math.max(0, Math.floor(timeout));
    if (due !== this.polledTimeout) {
      this.v.memory.writeU64(at + SchedPoll.timeout, due);
      this.polledTimeout = due;
    }
    checked('sched_op(poll)', this.v.hypercall(Hypercall.sched_op, SCHEDOP.poll, at));
  }

  /**
   * SCHEDOP_block's hypercall alone: Xen unmasks upcalls and blocks the vCPU (at the caller's next
   * `yield v.preempt()`) unless an upcall is already pending.
   */
  startBlock(): void {
    checked('sched_op(block)', this.v.hypercall(Hypercall.sched_op, SCHEDOP.block, 0));
  }

  /** SCHEDOP_shutdown: returns only if Xen refused it. */
  *shutdown(reason: ShutdownReason): Generator<VcpuRequest, void, unknown> {
    const at = this.page + ARG;
    this.v.memory.writeU32(at, SHUTDOWN[reason]);
    checked(`sched_op(shutdown ${reason})`, yield* this.v.hypercallBlocking(Hypercall.sched_op, SCHEDOP.shutdown, at));
  }
}

function samePorts(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Text up to the first NUL. */
export function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}
