/** The table of xl.cfg keys: every key xl knows (xl.cfg(5), Xen 4.17–4.21), what its value is, and whether xenoserver supports it. */

/**
 * - `supported`: interpreted into {@link DomainConfig}.
 * - `unsupported`: xl knows it, xenoserver does not simulate it yet: a warning naming the line, the value is ignored.
 * - `extension`: xenoserver's own key, unknown to xl (real xl would reject the file).
 */
export type XlKeyStatus = 'supported' | 'unsupported' | 'extension';

/** The shape of a key's value, used for the YAML form's JSON Schema. */
export type XlKeyValueKind = 'string' | 'number' | 'boolean' | 'size' | 'list' | 'string-or-list' | 'number-or-list' | 'any';

/** One row of the key table. */
export interface XlKey {
  key: string;
  status: XlKeyStatus;
  kind: XlKeyValueKind;
  description: string;
}

const S = 'supported';
const U = 'unsupported';

/** Every xl.cfg key known here, in the order xl.cfg(5) documents them. */
export const XL_KEYS: readonly XlKey[] = [
  // General
  { key: 'name', status: S, kind: 'string', description: 'Domain name, unique on the host. Required.' },
  { key: 'type', status: S, kind: 'string', description: 'Guest type: "pv" (default), "pvh" or "hvm".' },
  { key: 'builder', status: S, kind: 'string', description: 'Deprecated form of type: "generic" is pv, "hvm" is hvm.' },
  { key: 'pvh', status: S, kind: 'boolean', description: 'Deprecated: pvh = 1 selects type "pvh".' },
  { key: 'uuid', status: S, kind: 'string', description: 'Domain UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx); derived from the seed when absent.' },
  { key: 'seclabel', status: U, kind: 'string', description: 'XSM/FLASK security label.' },
  { key: 'init_seclabel', status: U, kind: 'string', description: 'XSM/FLASK label used while building.' },
  { key: 'pool', status: U, kind: 'string', description: 'CPU pool to create the domain in.' },
  // CPU
  { key: 'vcpus', status: S, kind: 'number', description: 'Number of vCPUs online at boot (default 1).' },
  { key: 'maxvcpus', status: S, kind: 'number', description: 'Maximum vCPUs; vcpus..maxvcpus-1 start offline (default vcpus).' },
  { key: 'cpus', status: S, kind: 'string-or-list', description: 'Hard affinity: "all", "0-3,5,^1", or a list with one entry per vCPU.' },
  { key: 'cpus_soft', status: U, kind: 'string-or-list', description: 'Soft affinity, same syntax as cpus.' },
  { key: 'cpu_weight', status: U, kind: 'number', description: 'Credit scheduler weight.' },
  { key: 'cap', status: U, kind: 'number', description: 'Credit scheduler cap, percent of one CPU.' },
  { key: 'period', status: U, kind: 'number', description: 'RTDS scheduler period (µs).' },
  { key: 'budget', status: U, kind: 'number', description: 'RTDS scheduler budget (µs).' },
  // Memory
  { key: 'memory', status: S, kind: 'size', description: 'Initial memory in MiB (default 32). The YAML form also takes sizes such as "512MiB".' },
  { key: 'maxmem', status: S, kind: 'size', description: 'Maximum memory in MiB (default memory); above memory the guest starts ballooned down.' },
  { key: 'vnuma', status: U, kind: 'list', description: 'Virtual NUMA topology.' },
  { key: 'claim_mode', status: U, kind: 'boolean', description: 'Claim memory up front.' },
  // Events
  { key: 'on_poweroff', status: S, kind: 'string', description: 'Action when the guest powers off (default destroy).' },
  { key: 'on_reboot', status: S, kind: 'string', description: 'Action when the guest reboots (default restart).' },
  { key: 'on_watchdog', status: S, kind: 'string', description: 'Action when the watchdog fires (default destroy).' },
  { key: 'on_crash', status: S, kind: 'string', description: 'Action when the guest crashes (default destroy).' },
  { key: 'on_soft_reset', status: S, kind: 'string', description: 'Action on soft reset (default soft-reset).' },
  // Direct kernel boot
  { key: 'kernel', status: S, kind: 'string', description: 'Kernel to boot directly: a path, or "generic" for the reference guest kernel.' },
  { key: 'ramdisk', status: S, kind: 'string', description: 'Initial ramdisk.' },
  { key: 'cmdline', status: S, kind: 'string', description: 'Kernel command line.' },
  { key: 'root', status: S, kind: 'string', description: 'Older form: appended to the command line as root=VALUE.' },
  { key: 'extra', status: S, kind: 'string', description: 'Older form: appended to the command line.' },
  { key: 'bootloader', status: U, kind: 'string', description: 'Bootloader run in dom0 (pygrub).' },
  { key: 'bootloader_args', status: U, kind: 'string-or-list', description: 'Bootloader arguments.' },
  { key: 'firmware', status: U, kind: 'string', description: 'Firmware: pvgrub32/pvgrub64 (PV), bios/uefi/seabios/ovmf (HVM), or a path.' },
  // Other options
  { key: 'e820_host', status: U, kind: 'boolean', description: 'Give the guest the host\'s e820 map.' },
  { key: 'driver_domain', status: U, kind: 'boolean', description: 'Domain runs backend drivers.' },
  { key: 'device_tree', status: U, kind: 'string', description: 'Arm: partial device tree.' },
  { key: 'dtdev', status: U, kind: 'list', description: 'Arm: device tree devices to pass through.' },
  { key: 'iomem', status: U, kind: 'list', description: 'Machine I/O memory ranges to pass through.' },
  { key: 'ioports', status: U, kind: 'string-or-list', description: 'I/O port ranges to pass through.' },
  { key: 'irqs', status: U, kind: 'number-or-list', description: 'Physical IRQs to pass through.' },
  { key: 'max_grant_frames', status: S, kind: 'number', description: 'Grant table frames (default from xl.conf).' },
  { key: 'max_maptrack_frames', status: S, kind: 'number', description: 'Maptrack frames (default from xl.conf).' },
  { key: 'max_grant_version', status: U, kind: 'number', description: 'Highest grant table version.' },
  { key: 'max_event_channels', status: S, kind: 'number', description: 'Event channel limit (default 1023).' },
  { key: 'nomigrate', status: U, kind: 'boolean', description: 'Forbid migration.' },
  { key: 'tsc_mode', status: U, kind: 'string', description: 'TSC mode.' },
  { key: 'localtime', status: U, kind: 'boolean', description: 'RTC in local time.' },
  { key: 'rtc_timeoffset', status: U, kind: 'number', description: 'RTC offset in seconds.' },
  { key: 'vtpm', status: U, kind: 'list', description: 'Virtual TPMs.' },
  { key: 'p9', status: U, kind: 'list', description: '9pfs shares.' },
  { key: 'pvcalls', status: U, kind: 'list', description: 'PV calls backends.' },
  { key: 'vfb', status: U, kind: 'list', description: 'Virtual framebuffers.' },
  { key: 'vkb', status: U, kind: 'list', description: 'Virtual keyboards.' },
  { key: 'channel', status: U, kind: 'list', description: 'Virtual channels (consoles with names).' },
  { key: 'vdispl', status: U, kind: 'list', description: 'Virtual displays.' },
  { key: 'vsnd', status: U, kind: 'any', description: 'Virtual sound cards.' },
  { key: 'vusb', status: U, kind: 'list', description: 'Virtual USB controllers (older name).' },
  { key: 'usbctrl', status: U, kind: 'list', description: 'USB controllers.' },
  { key: 'usbdev', status: U, kind: 'list', description: 'USB devices.' },
  { key: 'vscsi', status: U, kind: 'list', description: 'PV SCSI devices.' },
  { key: 'tee', status: U, kind: 'string', description: 'Arm: TEE mediator.' },
  { key: 'xenstore_feature_mask', status: U, kind: 'number', description: 'Xenstore features hidden from the guest.' },
  { key: 'xenstore_quota', status: U, kind: 'list', description: 'Xenstore quotas for the guest.' },
  { key: 'llc_colors', status: U, kind: 'string-or-list', description: 'LLC colours.' },
  // Devices
  { key: 'disk', status: S, kind: 'list', description: 'Virtual disks: diskspec strings (xl-disk-configuration(5)).' },
  { key: 'vif', status: S, kind: 'list', description: 'Virtual NICs: vifspec strings (xl-network-configuration(5)).' },
  { key: 'pci', status: S, kind: 'list', description: 'PCI devices to pass through: "[DDDD:]BB:DD.F[@VSLOT][,key=value]*". Each must be one of the machine definition\'s `devices`, held by Dom0; it is assigned to the guest in the IOMMU (its DMA goes through the guest\'s P2M) and pciback\'s xenstore directory is written as libxl does; no pcifront driver uses it yet.' },
  { key: 'pci_permissive', status: U, kind: 'boolean', description: 'Default permissive for pci entries.' },
  { key: 'pci_msitranslate', status: U, kind: 'boolean', description: 'Default msitranslate for pci entries.' },
  { key: 'pci_seize', status: U, kind: 'boolean', description: 'Default seize for pci entries.' },
  { key: 'pci_power_mgmt', status: U, kind: 'boolean', description: 'Default power_mgmt for pci entries.' },
  { key: 'rdm', status: U, kind: 'string', description: 'Reserved device memory policy.' },
  { key: 'rdm_mem_boundary', status: U, kind: 'number', description: 'RDM boundary in MiB.' },
  { key: 'gfx_passthru', status: U, kind: 'any', description: 'Graphics passthrough.' },
  { key: 'dm_restrict', status: U, kind: 'boolean', description: 'Restrict the device model.' },
  { key: 'device_model_user', status: U, kind: 'string', description: 'User the device model runs as.' },
  // HVM
  { key: 'xen_platform_pci', status: S, kind: 'boolean', description: 'HVM: expose the Xen platform PCI device (default 1); PV drivers need it.' },
  { key: 'device_model_version', status: S, kind: 'string', description: 'HVM: "qemu-xen" (default) or "qemu-xen-traditional".' },
  { key: 'device_model_override', status: U, kind: 'string', description: 'Path of the device model.' },
  { key: 'device_model_stubdomain_override', status: U, kind: 'boolean', description: 'Run the device model in a stub domain.' },
  { key: 'device_model_stubdomain_seclabel', status: U, kind: 'string', description: 'Stub domain label.' },
  { key: 'stubdomain_kernel', status: U, kind: 'string', description: 'Stub domain kernel.' },
  { key: 'stubdomain_ramdisk', status: U, kind: 'string', description: 'Stub domain ramdisk.' },
  { key: 'stubdomain_memory', status: U, kind: 'number', description: 'Stub domain memory (MiB).' },
  { key: 'device_model_args', status: U, kind: 'list', description: 'Extra device model arguments.' },
  { key: 'device_model_args_pv', status: U, kind: 'list', description: 'Extra device model arguments (PV).' },
  { key: 'device_model_args_hvm', status: U, kind: 'list', description: 'Extra device model arguments (HVM).' },
  { key: 'serial', status: S, kind: 'string-or-list', description: 'HVM: emulated serial ports, e.g. "pty" or ["pty", "file:/tmp/s"].' },
  { key: 'boot', status: U, kind: 'string', description: 'HVM boot order: c (disk), d (CD-ROM), n (network).' },
  { key: 'bios', status: U, kind: 'string', description: 'HVM firmware: rombios, seabios, ovmf.' },
  { key: 'bios_path_override', status: U, kind: 'string', description: 'HVM firmware file.' },
  { key: 'pae', status: U, kind: 'boolean', description: 'HVM: PAE.' },
  { key: 'acpi', status: U, kind: 'boolean', description: 'HVM: ACPI.' },
  { key: 'acpi_s3', status: U, kind: 'boolean', description: 'HVM: ACPI S3.' },
  { key: 'acpi_s4', status: U, kind: 'boolean', description: 'HVM: ACPI S4.' },
  { key: 'acpi_laptop_slate', status: U, kind: 'boolean', description: 'HVM: laptop/slate switch.' },
  { key: 'acpi_firmware', status: U, kind: 'string', description: 'HVM: extra ACPI tables.' },
  { key: 'smbios_firmware', status: U, kind: 'string', description: 'HVM: extra SMBIOS structures.' },
  { key: 'apic', status: U, kind: 'boolean', description: 'HVM: local APIC.' },
  { key: 'nx', status: U, kind: 'boolean', description: 'HVM: NX.' },
  { key: 'hpet', status: U, kind: 'boolean', description: 'HVM: HPET.' },
  { key: 'hap', status: U, kind: 'boolean', description: 'HVM: use hardware-assisted paging (the host\'s "paging" sets the default).' },
  { key: 'oos', status: U, kind: 'boolean', description: 'HVM: out-of-sync shadow page tables.' },
  { key: 'shadow_memory', status: U, kind: 'number', description: 'HVM: shadow page table memory (MiB).' },
  { key: 'nestedhvm', status: U, kind: 'boolean', description: 'HVM: nested virtualization.' },
  { key: 'altp2m', status: U, kind: 'string', description: 'Alternate p2m mode.' },
  { key: 'altp2mhvm', status: U, kind: 'boolean', description: 'Deprecated altp2m switch.' },
  { key: 'max_altp2m', status: U, kind: 'number', description: 'Number of altp2m views.' },
  { key: 'viridian', status: U, kind: 'any', description: 'HVM: Hyper-V enlightenments.' },
  { key: 'timer_mode', status: U, kind: 'string', description: 'HVM: virtual timer mode.' },
  { key: 'vpt_align', status: U, kind: 'boolean', description: 'HVM: align periodic timers.' },
  { key: 'mmio_hole', status: U, kind: 'number', description: 'HVM: MMIO hole size (MiB).' },
  { key: 'hdtype', status: U, kind: 'string', description: 'HVM: emulated disk type (ide, ahci).' },
  { key: 'videoram', status: U, kind: 'number', description: 'HVM: video RAM (MiB).' },
  { key: 'stdvga', status: U, kind: 'boolean', description: 'HVM: standard VGA (deprecated).' },
  { key: 'vga', status: U, kind: 'string', description: 'HVM: emulated VGA (stdvga, cirrus, none, qxl).' },
  { key: 'vnc', status: U, kind: 'boolean', description: 'VNC display.' },
  { key: 'vnclisten', status: U, kind: 'string', description: 'VNC listen address.' },
  { key: 'vncdisplay', status: U, kind: 'number', description: 'VNC display number.' },
  { key: 'vncunused', status: U, kind: 'boolean', description: 'VNC: first unused port.' },
  { key: 'vncpasswd', status: U, kind: 'string', description: 'VNC password.' },
  { key: 'keymap', status: U, kind: 'string', description: 'Keyboard map.' },
  { key: 'sdl', status: U, kind: 'boolean', description: 'SDL display.' },
  { key: 'opengl', status: U, kind: 'boolean', description: 'SDL OpenGL.' },
  { key: 'nographic', status: U, kind: 'boolean', description: 'No graphics.' },
  { key: 'spice', status: U, kind: 'boolean', description: 'SPICE display.' },
  { key: 'spicehost', status: U, kind: 'string', description: 'SPICE address.' },
  { key: 'spiceport', status: U, kind: 'number', description: 'SPICE port.' },
  { key: 'spicetls_port', status: U, kind: 'number', description: 'SPICE TLS port.' },
  { key: 'spicedisable_ticketing', status: U, kind: 'boolean', description: 'SPICE without password.' },
  { key: 'spicepasswd', status: U, kind: 'string', description: 'SPICE password.' },
  { key: 'spiceagent_mouse', status: U, kind: 'boolean', description: 'SPICE agent mouse.' },
  { key: 'spicevdagent', status: U, kind: 'boolean', description: 'SPICE vdagent.' },
  { key: 'spice_clipboard_sharing', status: U, kind: 'boolean', description: 'SPICE clipboard.' },
  { key: 'spiceusbredirection', status: U, kind: 'number', description: 'SPICE USB redirection channels.' },
  { key: 'spice_image_compression', status: U, kind: 'string', description: 'SPICE image compression.' },
  { key: 'spice_streaming_video', status: U, kind: 'string', description: 'SPICE video streaming.' },
  { key: 'soundhw', status: U, kind: 'string', description: 'HVM: emulated sound card.' },
  { key: 'usb', status: U, kind: 'boolean', description: 'HVM: emulated USB.' },
  { key: 'usbversion', status: U, kind: 'number', description: 'HVM: emulated USB version.' },
  { key: 'usbdevice', status: U, kind: 'string-or-list', description: 'HVM: emulated USB devices.' },
  { key: 'vkb_device', status: U, kind: 'boolean', description: 'PV keyboard for HVM.' },
  { key: 'ms_vm_genid', status: U, kind: 'string', description: 'HVM: VM generation ID.' },
  { key: 'cpuid', status: U, kind: 'string-or-list', description: 'CPUID policy.' },
  { key: 'msr_relaxed', status: U, kind: 'boolean', description: 'Relaxed MSR access.' },
  { key: 'mca_caps', status: U, kind: 'string', description: 'HVM: MCA capabilities.' },
  { key: 'passthrough', status: U, kind: 'string', description: 'IOMMU page-table sharing mode for passthrough.' },
  { key: 'vpmu', status: U, kind: 'boolean', description: 'Virtual PMU.' },
  { key: 'gic_version', status: U, kind: 'string', description: 'Arm: GIC version.' },
  { key: 'vuart', status: U, kind: 'string', description: 'Arm: virtual UART.' },
  { key: 'sve', status: U, kind: 'any', description: 'Arm: SVE vector length.' },
  { key: 'nr_spis', status: U, kind: 'number', description: 'Arm: number of SPIs.' },
  { key: 'trap_unmapped_accesses', status: U, kind: 'boolean', description: 'Arm: trap unmapped MMIO.' },
  // xenoserver
  { key: 'seed', status: 'extension', kind: 'number', description: 'xenoserver: seed of this guest\'s randomness (default derived from the host seed and the name).' },
];

/** The table by key. */
export const XL_KEY_INDEX: ReadonlyMap<string, XlKey> = new Map(XL_KEYS.map((k) => [k.key, k]));
