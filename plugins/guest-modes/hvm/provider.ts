/**
 * The HVM and PVHVM guest modes (one provider factory; `xen_platform_pci` chooses between them). The
 * builder's part follows libxl/libxc's HVM path: the memory layout with its holes, the special pages and
 * their HVM params, hvm_info_table, the xenstore keys libxl writes for HVM guests, the firmware as vCPU
 * 0's program, and the device model's start, which the toolstack waits for before it unpauses.
 */
import {
  ConfigError,
  type DeviceModelHost,
  type DomainConfig,
  type GuestBuildContext,
  type GuestMemoryLayout,
  type GuestModeProvider,
  type Logger,
} from '../../../core/api/index.js';
import { HVM_PARAM, PAGE_SIZE, SPECIALPAGE } from '../../../core/public/index.js';
import { IOREQ_SERVER_PFN, NR_IOREQ_SERVER_PAGES, hvmLayout, hvmMemory, specialPfn } from './layout.js';
import { writeHvmInfoTable } from './hvm-info.js';
import { hvmFirmware, type FirmwareReport } from './firmware/firmware.js';

/** hvmloader's entry point, where Xen starts vCPU 0 (32-bit protected mode, paging off). */
const HVMLOADER_ENTRY = 0x10_0000;

export interface HvmModeDeps {
  /** The device-model host, or undefined when the `device-model` plugin is not enabled. */
  deviceModelHost(): DeviceModelHost | undefined;
  log: Logger;
  /** Told what each guest's firmware did (tests, debugging). */
  onFirmwareReport?(domid: number, report: FirmwareReport): void;
}

/** The HVM params libxc sets for the special pages (alloc_magic_pages_hvm), plus the rings' ports. */
function setParams(ctx: GuestBuildContext): void {
  const params = ctx.domain.hvmParams;
  const values: [number, number][] = [
    [HVM_PARAM.STORE_PFN, ctx.store.gfn],
    [HVM_PARAM.STORE_EVTCHN, ctx.store.port],
    [HVM_PARAM.CONSOLE_PFN, ctx.console.gfn],
    [HVM_PARAM.CONSOLE_EVTCHN, ctx.console.port],
    [HVM_PARAM.IOREQ_PFN, specialPfn(SPECIALPAGE.ioreq)],
    [HVM_PARAM.BUFIOREQ_PFN, specialPfn(SPECIALPAGE.bufioreq)],
    [HVM_PARAM.PAGING_RING_PFN, specialPfn(SPECIALPAGE.paging)],
    [HVM_PARAM.MONITOR_RING_PFN, specialPfn(SPECIALPAGE.access)],
    [HVM_PARAM.SHARING_RING_PFN, specialPfn(SPECIALPAGE.sharing)],
    [HVM_PARAM.IOREQ_SERVER_PFN, IOREQ_SERVER_PFN],
    [HVM_PARAM.NR_IOREQ_SERVER_PAGES, NR_IOREQ_SERVER_PAGES],
  ];
  for (const [index, value] of values) params.set(index, BigInt(value));
  ctx.builder.charge('hypercall', values.length);
}

/**
 * The keys libxl writes for an HVM guest (libxl__domain_build's HVM case, libxl__spawn_local_dm):
 * platform/acpi (1: the firmware builds ACPI tables) and acpi_s3/s4/laptop_slate (0: no SSDTs for them),
 * hvmloader/allow-memory-relocate (qemu-xen cannot relocate),
 * the device model's disable_pf (the platform PCI device's absence) and the dm-version libxl records.
 */
function writeXenstore(ctx: GuestBuildContext): void {
  const home = `/local/domain/${ctx.domain.domid}`;
  ctx.xenstoreWrite(`${home}/platform/acpi`, '1');
  for (const key of ['acpi_s3', 'acpi_s4', 'acpi_laptop_slate']) ctx.xenstoreWrite(`${home}/platform/${key}`, '0');
  ctx.xenstoreWrite(`${home}/hvmloader/allow-memory-relocate`, '0');
  ctx.xenstoreWrite(`/local/domain/0/device-model/${ctx.domain.domid}/disable_pf`, ctx.config.xenPlatformPci ? '0' : '1');
  ctx.xenstoreWrite(`/libxl/${ctx.domain.domid}/dm-version`, 'qemu_xen');
}

/** The provider of `hvm` (emulated everything but the CPU) or `pvhvm` (HVM plus the platform PCI device and PV drivers). */
export function hvmFamilyMode(mode: 'hvm' | 'pvhvm', deps: HvmModeDeps): GuestModeProvider {
  const pv = mode === 'pvhvm';
  return {
    mode,
    description: pv
      ? 'PVHVM: HVM with the Xen platform PCI device, PV drivers, event channels by vector callback and the PV timer'
      : 'HVM: firmware boot of the emulated platform (device model in Dom0), emulated APICs, HAP or shadow paging',
    xlType: 'hvm',
    virtualization: pv
      ? { diskAndNetwork: 'P', interruptsAndTimers: 'P', motherboardAndBoot: 'VS', privilegedAndPageTables: 'VH' }
      : { diskAndNetwork: 'VS or P', interruptsAndTimers: 'VS', motherboardAndBoot: 'VS', privilegedAndPageTables: 'VH' },
    paging: (machinePaging) => machinePaging,
    emulatedApic: true,
    deviceModel: true,
    privileged: (insn) => (insn === 'write-cr0' || insn === 'write-cr4' || insn === 'wbinvd' ? 'vm-exit' : 'native'),
    layout: (config: DomainConfig): GuestMemoryLayout => hvmLayout(config, mode),
    build(ctx: GuestBuildContext) {
      const host = deps.deviceModelHost();
      if (host === undefined) {
        throw new ConfigError(`a ${mode} guest needs a device model: enable the "device-model" plugin (and the device-model plugins it hosts)`, {
          file: ctx.config.source.file,
          path: ctx.config.source.path ? `${ctx.config.source.path}.type` : 'type',
        });
      }
      const { domain: d, config } = ctx;
      setParams(ctx);
      const memory = hvmMemory(Math.floor(config.memoryBytes / PAGE_SIZE));
      ctx.builder.charge('copyPerByte', writeHvmInfoTable(ctx.memory, config.maxvcpus, config.vcpus, memory));
      writeXenstore(ctx);
      const boot = d.vcpus[0]!.context;
      boot.rip = HVMLOADER_ENTRY;
      boot.cr0 = 0x11;
      const report = deps.onFirmwareReport;
      d.vcpus[0]!.setProgram(hvmFirmware({ domain: d, kernel: ctx.kernel, cmdline: ctx.cmdline, log: deps.log, ...(report ? { onReport: (r: FirmwareReport) => report(d.domid, r) } : {}) }));
      return host.start(d.domid, config, mode);
    },
  };
}
