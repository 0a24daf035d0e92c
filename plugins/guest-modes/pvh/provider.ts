/**
 * The PVH guest mode: PV interfaces for everything, the CPU's virtualization for privileged
 * instructions and page tables (HAP), no device model and no firmware — direct entry with
 * hvm_start_info in RBX (docs/misc/pvh.pandoc).
 */
import { ConfigError, type DomainConfig, type GuestBuildContext, type GuestMemoryLayout, type GuestModeProvider } from '../../../core/api/index.js';
import { HVM_PARAM, PAGE_SIZE } from '../../../core/public/index.js';
import { PVH_CONSOLE_GFN, PVH_MINIMUM_PAGES, PVH_START_INFO_ADDR, PVH_STORE_GFN, writePvhStartInfo } from './start-info.js';

export function pvhMode(): GuestModeProvider {
  return {
    mode: 'pvh',
    description: 'PVH: direct entry with hvm_start_info, hardware-virtualized CPU and memory, PV devices, interrupts and timers, no device model',
    xlType: 'pvh',
    virtualization: { diskAndNetwork: 'P', interruptsAndTimers: 'P', motherboardAndBoot: 'P', privilegedAndPageTables: 'VH' },
    paging: (machinePaging) => machinePaging,
    emulatedApic: true,
    deviceModel: false,
    privileged: (insn) => (insn === 'write-cr0' || insn === 'write-cr4' || insn === 'wbinvd' ? 'vm-exit' : 'native'),
    layout(config: DomainConfig): GuestMemoryLayout {
      const pages = Math.floor(config.memoryBytes / PAGE_SIZE);
      if (pages < PVH_MINIMUM_PAGES) {
        throw new ConfigError(`memory ${config.memoryBytes / 2 ** 20} MiB is too small for a pvh guest`, { file: config.source.file, path: config.source.path ? `${config.source.path}.memory` : 'memory' });
      }
      return { ram: [{ start: 0, end: pages }], special: [PVH_STORE_GFN, PVH_CONSOLE_GFN], storeGfn: PVH_STORE_GFN, consoleGfn: PVH_CONSOLE_GFN };
    },
    build(ctx: GuestBuildContext): void {
      const v = ctx.builder;
      const params = ctx.domain.hvmParams;
      v.charge('hypercall', 4); // HVMOP_set_param ×4
      params.set(HVM_PARAM.STORE_PFN, BigInt(ctx.store.gfn));
      params.set(HVM_PARAM.STORE_EVTCHN, BigInt(ctx.store.port));
      params.set(HVM_PARAM.CONSOLE_PFN, BigInt(ctx.console.gfn));
      params.set(HVM_PARAM.CONSOLE_EVTCHN, BigInt(ctx.console.port));
      v.charge('copyPerByte', writePvhStartInfo(ctx.memory, ctx.config.memoryBytes, ctx.cmdline));
      ctx.domain.vcpus[0]!.context.rbx = PVH_START_INFO_ADDR;
      ctx.domain.vcpus[0]!.setProgram(ctx.kernel.entry(ctx.domain, 'pvh'));
    },
  };
}
