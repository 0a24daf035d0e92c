/** What code running on a vCPU sees (VcpuApi), and the defaults of a vCPU with no memory or platform attached. */
import { GuestAccessBase } from '../memory/guest-access.js';
import { GuestError, HardwareError } from '../api/errors.js';
import type { CpuidResult } from '../api/platform.js';
import type { GuestAccess } from '../api/memory.js';
import type { CostName } from '../engine/cost-model.js';
import { IO_PENDING, type PrivilegedInstruction, type VcpuApi, type VcpuCoroutine, type VcpuInstructions, type VcpuRequest } from '../api/domain.js';
import type { MmioAccessSize, PortAccessSize } from '../api/io.js';
import type { DomId, VcpuId } from '../public/types.js';
import type { VcpuContext } from './vcpu-context.js';
import type { VcpuImpl } from './vcpu.js';

const BLOCK: VcpuRequest = Object.freeze({ op: 'block' });
const HALT: VcpuRequest = Object.freeze({ op: 'halt' });
const YIELD: VcpuRequest = Object.freeze({ op: 'yield' });
/** The request a preemption point yields. */
export const PREEMPT: VcpuRequest = Object.freeze({ op: 'preempt' });

/** The request an access forwarded to a device model yields. */
const IO_WAIT: VcpuRequest = Object.freeze({ op: 'io' });

/** All ones of an access of `size` bytes (what a read of nothing returns). */
export function allOnes(size: number): number {
  return size >= 8 ? Number.MAX_SAFE_INTEGER : 2 ** (size * 8) - 1;
}

/** A vCPU without a platform: CPUID reads zeroes, every MSR access and privileged instruction is #GP, I/O reads all ones, no interrupts. */
export const NO_INSTRUCTIONS: VcpuInstructions = {
  io: (_space, _addr, size, write) => (write ? 0 : allOnes(size)),
  ioResult: () => 0,
  acceptInterrupt: () => -1,
  privileged: (insn) => {
    throw new HardwareError('gp', `${insn}: no platform`);
  },
  cpuid: () => ({ eax: 0, ebx: 0, ecx: 0, edx: 0 }),
  rdmsr: (msr) => {
    throw new HardwareError('gp', `rdmsr 0x${msr.toString(16)}: no platform`);
  },
  wrmsr: (msr) => {
    throw new HardwareError('gp', `wrmsr 0x${msr.toString(16)}: no platform`);
  },
};

/** The access of a vCPU that has no memory attached: every copy fails with EFAULT. */
export class NoGuestAccess extends GuestAccessBase {
  constructor(private readonly vcpu: { domid: DomId; vcpuId: VcpuId }) {
    super();
  }
  read(addr: number, length: number): Uint8Array {
    throw new GuestError('EFAULT', `vcpu${this.vcpu.vcpuId} has no memory attached (read of ${length} bytes at 0x${addr.toString(16)})`, { domid: this.vcpu.domid });
  }
  write(addr: number, data: Uint8Array): void {
    throw new GuestError('EFAULT', `vcpu${this.vcpu.vcpuId} has no memory attached (write of ${data.length} bytes at 0x${addr.toString(16)})`, { domid: this.vcpu.domid });
  }
}

/** The narrow API a program receives. */
export class VcpuApiImpl implements VcpuApi {
  constructor(private readonly v: VcpuImpl) {}
  get domid(): DomId {
    return this.v.domid;
  }
  get vcpuId(): VcpuId {
    return this.v.vcpuId;
  }
  get now(): number {
    return this.v.clock;
  }
  cpuid(leaf: number, subleaf = 0): CpuidResult {
    return this.v.instructions.cpuid(leaf, subleaf);
  }
  rdmsr(msr: number): bigint {
    return this.v.instructions.rdmsr(msr);
  }
  wrmsr(msr: number, value: bigint): void {
    this.v.instructions.wrmsr(msr, value);
  }
  get regs(): VcpuContext {
    return this.v.context;
  }
  get memory(): GuestAccess {
    return this.v.guest;
  }
  compute(cycles: number): void {
    this.v.checkRunaway();
    this.v.clock += cycles * this.v.nsPerCycle;
  }
  charge(cost: CostName, times = 1): void {
    this.v.checkRunaway();
    this.v.clock += this.v.cost[cost] * times * this.v.nsPerCycle;
  }
  hypercall(nr: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0): number {
    const args = this.v.hypercallArgs;
    args[0] = a0;
    args[1] = a1;
    args[2] = a2;
    args[3] = a3;
    args[4] = a4;
    return this.v.hypercall(nr, args);
  }
  *hypercallBlocking(nr: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0): Generator<VcpuRequest, number, unknown> {
    const result = this.hypercall(nr, a0, a1, a2, a3, a4);
    const request = this.v.takeDeferred();
    if (request !== null) yield request;
    return result;
  }
  block(): VcpuRequest {
    return BLOCK;
  }
  halt(): VcpuRequest {
    this.v.instructions.hlt?.();
    return HALT;
  }
  sleepUntil(time: number): VcpuRequest {
    return { op: 'sleep', until: time };
  }
  sleepFor(ns: number): VcpuRequest {
    return { op: 'sleep', until: this.v.clock + ns };
  }
  yield(): VcpuRequest {
    return YIELD;
  }
  poll(timeout = 0): VcpuRequest {
    return { op: 'poll', timeout };
  }
  preempt(): VcpuRequest {
    return PREEMPT;
  }
  *inPort(port: number, size: PortAccessSize): Generator<VcpuRequest, number, unknown> {
    return yield* this.io('pio', port, size, false, 0);
  }
  *outPort(port: number, size: PortAccessSize, value: number): Generator<VcpuRequest, void, unknown> {
    yield* this.io('pio', port, size, true, value);
  }
  *mmioRead(addr: number, size: MmioAccessSize): Generator<VcpuRequest, number, unknown> {
    return yield* this.io('mmio', addr, size, false, 0);
  }
  *mmioWrite(addr: number, size: MmioAccessSize, value: number): Generator<VcpuRequest, void, unknown> {
    yield* this.io('mmio', addr, size, true, value);
  }
  private *io(space: 'pio' | 'mmio', addr: number, size: number, write: boolean, value: number): Generator<VcpuRequest, number, unknown> {
    this.v.checkRunaway();
    const result = this.v.instructions.io(space, addr, size, write, value);
    if (result !== IO_PENDING) return result;
    yield IO_WAIT;
    return this.v.instructions.ioResult();
  }
  acceptInterrupt(): number {
    return this.v.instructions.acceptInterrupt();
  }
  privileged(insn: PrivilegedInstruction, operand = 0): number {
    this.v.checkRunaway();
    return this.v.instructions.privileged(insn, operand);
  }
  *burn(cycles: number): VcpuCoroutine {
    const v = this.v;
    let left = cycles;
    while (left > 0) {
      const room = Math.ceil((v.segmentEnd - v.clock) / v.nsPerCycle);
      if (room <= 0) {
        yield PREEMPT;
        continue;
      }
      const chunk = Math.min(left, room);
      this.compute(chunk);
      left -= chunk;
      yield PREEMPT;
    }
  }
}
