/**
 * PCI configuration mechanism #1 (FreeBSD's x86/pci/pci_cfgreg.c, PCI 2.2 §3.2.2.3.2): write the
 * enable bit, bus, device, function and dword register to CONFIG_ADDRESS (0xCF8), then access
 * CONFIG_DATA (0xCFC + the byte offset within the dword).
 */
import type { VcpuApi, VcpuRequest } from '../../../../../core/api/index.js';
import type { PortAccessSize } from '../../../../../core/api/io.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

export const CONF1_ADDR_PORT = 0xcf8;
export const CONF1_DATA_PORT = 0xcfc;
export const CONF1_ENABLE = 0x8000_0000;

/** Type-0 header registers (pcireg.h). */
export const PCIR = {
  VENDOR: 0x00,
  DEVICE: 0x02,
  COMMAND: 0x04,
  REVID: 0x08,
  PROGIF: 0x09,
  SUBCLASS: 0x0a,
  CLASS: 0x0b,
  HDRTYPE: 0x0e,
  BAR0: 0x10,
  SUBVEND_0: 0x2c,
  SUBDEV_0: 0x2e,
  INTLINE: 0x3c,
  INTPIN: 0x3d,
} as const;
/** HDRTYPE bit 7: the device has functions 1-7. */
export const PCIM_MFDEV = 0x80;
/** COMMAND bits. */
export const PCIM_CMD_PORTEN = 0x1;
export const PCIM_CMD_MEMEN = 0x2;
/** BAR bits. */
export const PCIM_BAR_IO_SPACE = 0x1;
export const PCIM_BAR_MEM_TYPE = 0x6;
export const PCIM_BAR_MEM_64 = 0x4;
export const PCIM_BAR_MEM_PREFETCH = 0x8;
export const PCI_SLOTMAX = 31;
export const PCI_FUNCMAX = 7;

/** A bus/slot/function triple. */
export interface PciSelector {
  readonly bus: number;
  readonly slot: number;
  readonly func: number;
}

function conf1Address(sel: PciSelector, reg: number): number {
  return (CONF1_ENABLE | (sel.bus << 16) | (sel.slot << 11) | (sel.func << 8) | (reg & 0xfc)) >>> 0;
}

function checkAccess(reg: number, width: PortAccessSize): void {
  if (!Number.isInteger(reg) || reg < 0 || reg > 0xff || reg % width !== 0) throw new Error(`pci: bad config access of ${width} bytes at 0x${reg.toString(16)}`);
}

/** pci_cfgregread: `width` bytes at `reg` of function `sel`. */
export function* pciCfgRead(v: VcpuApi, sel: PciSelector, reg: number, width: PortAccessSize): Gen<number> {
  checkAccess(reg, width);
  yield* v.outPort(CONF1_ADDR_PORT, 4, conf1Address(sel, reg));
  return yield* v.inPort(CONF1_DATA_PORT + (reg & 3), width);
}

/** pci_cfgregwrite. */
export function* pciCfgWrite(v: VcpuApi, sel: PciSelector, reg: number, width: PortAccessSize, value: number): Gen {
  checkAccess(reg, width);
  yield* v.outPort(CONF1_ADDR_PORT, 4, conf1Address(sel, reg));
  yield* v.outPort(CONF1_DATA_PORT + (reg & 3), width, value);
}
