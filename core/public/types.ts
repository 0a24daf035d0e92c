/** Branded numeric types that keep frames, ports, domids and addresses from being mixed up. */

declare const brand: unique symbol;
/** A number that the compiler keeps apart from other numbers of a different brand. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A domain id (`domid_t`, u16). Ordinary domains are below {@link DOMID_FIRST_RESERVED}. */
export type DomId = Brand<number, 'DomId'>;
/** A guest frame number: a 4 KiB page index in a domain's pseudo-physical space. */
export type GuestFrame = Brand<number, 'GuestFrame'>;
/** A machine frame number: a 4 KiB page index in the host's physical memory. */
export type MachineFrame = Brand<number, 'MachineFrame'>;
/** A grant reference (`grant_ref_t`, u32): an index into a domain's grant table. */
export type GrantRef = Brand<number, 'GrantRef'>;
/** An event-channel port (`evtchn_port_t`, u32) local to one domain. */
export type EvtchnPort = Brand<number, 'EvtchnPort'>;
/** An x86 I/O port (0..0xFFFF). */
export type IoPort = Brand<number, 'IoPort'>;
/** A virtual CPU index within its domain. */
export type VcpuId = Brand<number, 'VcpuId'>;
/** A physical CPU index of the host. */
export type PcpuId = Brand<number, 'PcpuId'>;
/** A global system interrupt number (IO-APIC input). */
export type Gsi = Brand<number, 'Gsi'>;
/** A guest-physical byte address. */
export type GuestPhysAddr = Brand<number, 'GuestPhysAddr'>;
/** A guest-virtual (linear) byte address. Canonical 48-bit addresses fit a double exactly. */
export type GuestVirtAddr = Brand<number, 'GuestVirtAddr'>;
/** A machine (host-physical) byte address. */
export type MachineAddr = Brand<number, 'MachineAddr'>;
/** A PCI device address: bus << 8 | device << 3 | function (segment 0). */
export type PciBdf = Brand<number, 'PciBdf'>;
/** Virtual time in nanoseconds since host boot. */
export type Nanoseconds = Brand<number, 'Nanoseconds'>;

export const domId = (n: number): DomId => n as DomId;
export const guestFrame = (n: number): GuestFrame => n as GuestFrame;
export const machineFrame = (n: number): MachineFrame => n as MachineFrame;
export const grantRef = (n: number): GrantRef => n as GrantRef;
export const evtchnPort = (n: number): EvtchnPort => n as EvtchnPort;
export const ioPort = (n: number): IoPort => n as IoPort;
export const vcpuId = (n: number): VcpuId => n as VcpuId;
export const pcpuId = (n: number): PcpuId => n as PcpuId;
export const gsi = (n: number): Gsi => n as Gsi;
export const guestPhysAddr = (n: number): GuestPhysAddr => n as GuestPhysAddr;
export const guestVirtAddr = (n: number): GuestVirtAddr => n as GuestVirtAddr;
export const machineAddr = (n: number): MachineAddr => n as MachineAddr;
export const pciBdf = (bus: number, dev: number, fn: number): PciBdf => ((bus << 8) | (dev << 3) | fn) as PciBdf;
export const ns = (n: number): Nanoseconds => n as Nanoseconds;

/** Renders a BDF as Xen does: `BB:DD.F` in hex. */
export function formatBdf(bdf: PciBdf): string {
  const hex = (v: number, w: number) => v.toString(16).padStart(w, '0');
  return `${hex(bdf >> 8, 2)}:${hex((bdf >> 3) & 0x1f, 2)}.${bdf & 7}`;
}
