import { describe, expect, it } from 'vitest';
import { FakeHvm } from './platform.js';
import { chooseFlavour, detectHvmBoot, hvmBoot } from '../../../../../plugins/guest/generic/boot/hvm.js';
import { Kernel } from '../../../../../plugins/guest/generic/kern/kernel.js';
import { parseKernelConfig } from '../../../../../plugins/guest/generic/conf/config.js';
import { HVM_PARAM, HVMOP, Hypercall, VCPUOP, XENMEM } from '../../../../../core/public/index.js';
import { IDT_EVTCHN } from '../../../../../plugins/guest/generic/dev/xen/xenpci/xenpci.js';

const OPTIONS = { prompt: '# ', tickUs: 1000, kernconfDir: '', consoleDrainMs: 100 };

function boot(hvm: FakeHvm, devices = 'device xenpci\n') {
  const k = new Kernel(hvm.v, OPTIONS, parseKernelConfig('TEST', `cpu HAMMER\nident TEST\n${devices}`));
  const r = hvm.run(hvmBoot(k));
  if (r.state !== 'done') throw new Error(`boot stopped: ${r.state}\n${k.msgbuf.contents()}`);
  return { k, result: r.value!, log: k.msgbuf.contents() };
}

describe('HVM vs PVHVM', () => {
  it('enters the native path only when RDI holds the firmware hand-off', () => {
    const hvm = new FakeHvm();
    expect(detectHvmBoot(hvm.v)).toBe(true);
    hvm.v.regs.rdi = 0x20_0000;
    expect(detectHvmBoot(hvm.v)).toBe(false);
  });

  it('is PVHVM only with Xen, the platform device and device xenpci', () => {
    const platform = [{ vendor: 0x5853, device: 1 }] as never[];
    const xen = { base: 0x4000_0000, origin: 'XenVMMXenVMM', maxLeaf: 0x4000_0005 };
    expect(chooseFlavour(xen, platform, true)).toBe('pvhvm');
    expect(chooseFlavour(undefined, platform, true)).toBe('hvm');
    expect(chooseFlavour(xen, [], true)).toBe('hvm');
    expect(chooseFlavour(xen, platform, false)).toBe('hvm');
  });

  it('boots HVM with native hooks: memory from the SMAP, the serial console, the RTC, the calibrated LAPIC', () => {
    const hvm = new FakeHvm({ xen: true });
    const { k, result, log } = boot(hvm);
    expect(result.flavour).toBe('hvm');
    expect(k.cmdline).toBe('console=uart');
    expect(k.phys.ramFrames).toBe(0xa0 + 0xf00);
    expect(log).toContain('hooks: clock = lapic (LAPIC timer one-shot, calibrated against the i8254)');
    expect(log).toContain('hooks: ap_start = native_start_ap (INIT-SIPI-SIPI)');
    expect(log).toContain('atrtc0: Setting date to 2024-05-17T13:45:30Z');
    expect(k.devices.find((d) => d.name === 'nexus')!.tree()).toEqual(['nexus0', '  acpi0', '  isa0', '    uart0', '    attimer0', '    atrtc0', '  pcib0', '    pci0']);
    hvm.run(result.intr.halt(), 1e6);
    expect(hvm.uart.tx).toContain('uart0: console (115200,n,8,1)');
    expect(hvm.uart.tx).toContain('Hypervisor: Origin = "XenVMMXenVMM"');
    expect(hvm.msrWrites).toHaveLength(1);
  });

  it('boots PVHVM: unplug, shared info in BAR1, vector callback, Xen clock and IPIs', () => {
    const hvm = new FakeHvm({ xen: true, platformDevice: true });
    const { k, result, log } = boot(hvm);
    expect(result.flavour).toBe('pvhvm');
    expect(hvm.unplug.writes.at(-1)).toEqual({ port: 0x10, size: 2, value: 3 });
    const physmap = hvm.hypercalls.find((h) => h.nr === Hypercall.memory_op && h.args[0] === XENMEM.add_to_physmap)!;
    expect(hvm.memory.readU64(physmap.args[1]! + 16)).toBe(0xf0000);
    expect(hvm.hvmParams.get(HVM_PARAM.CALLBACK_IRQ)).toBe((2n << 56n) | BigInt(IDT_EVTCHN));
    expect(hvm.count(Hypercall.hvm_op, HVMOP.set_evtchn_upcall_vector)).toBe(1);
    expect(k.sharedInfo).toBe(0xf000_0000);
    expect(log).toContain('hooks: clock = xentimer');
    expect(log).toContain('hooks: ipi = xen_ipi');
    expect(k.devices.find((d) => d.name === 'nexus')!.tree()).toContain('      xenpci0');
  });
});

describe('setting a timer', () => {
  it('costs MMIO writes to the LAPIC (VM exits) and no hypercall in HVM', () => {
    const hvm = new FakeHvm({ xen: true });
    const { k } = boot(hvm);
    const exits = { ...hvm.exits };
    const calls = hvm.hypercalls.length;
    k.hooks.clock.arm(k.bsp, hvm.engine.now + 1e6);
    expect(hvm.exits.mmioWrite - exits.mmioWrite).toBe(2);
    expect(hvm.totalExits - (exits.pioIn + exits.pioOut + exits.mmioRead + exits.mmioWrite)).toBe(2);
    expect(hvm.hypercalls.length).toBe(calls);
    // And the timer really fires on the LAPIC's vector.
    hvm.run(k.events.wait([], 0), 5e6);
    expect(k.hooks.clock.fired(k.bsp)).toBe(true);
  });

  it('costs one VCPUOP_set_singleshot_timer hypercall and no exit in PVHVM', () => {
    const hvm = new FakeHvm({ xen: true, platformDevice: true });
    const { k } = boot(hvm);
    const exits = hvm.totalExits;
    const before = hvm.count(Hypercall.vcpu_op, VCPUOP.set_singleshot_timer);
    const calls = hvm.hypercalls.length;
    k.hooks.clock.arm(k.bsp, hvm.engine.now + 1e6);
    expect(hvm.totalExits).toBe(exits);
    expect(hvm.hypercalls.length - calls).toBe(1);
    expect(hvm.count(Hypercall.vcpu_op, VCPUOP.set_singleshot_timer) - before).toBe(1);
  });
});
