/** MSI: decoding the message address and data (SDM 11.11) and delivering it through the APIC bus. */
import { HardwareError } from '../api/errors.js';
import type { MsiMessage, MsiSender } from '../api/interrupts.js';
import { DeliveryMode, type InterruptMessage } from './apic-defs.js';
import type { ApicBus } from './apic-bus.js';

/** The interrupt window: addresses 0xFEE00000..0xFEEFFFFF (bits 31:20 = 0xFEE). */
export const MSI_ADDR_BASE = 0xfee0_0000;
export const MSI_ADDR_HEADER_MASK = 0xfff0_0000;
export const MSI_ADDR_DEST_ID_SHIFT = 12;
export const MSI_ADDR_REDIRECTION_HINT = 1 << 3;
export const MSI_ADDR_DEST_MODE_LOGICAL = 1 << 2;
export const MSI_DATA_DELIVERY_MODE_SHIFT = 8;
export const MSI_DATA_LEVEL_ASSERT = 1 << 14;
export const MSI_DATA_TRIGGER_LEVEL = 1 << 15;

/** An MSI's fields. */
export interface MsiFields {
  /** Destination APIC ID (address bits 19:12). */
  dest: number;
  /** Redirection hint (address bit 3). */
  redirectionHint: boolean;
  /** Logical destination mode (address bit 2). */
  logical: boolean;
  vector: number;
  deliveryMode: DeliveryMode;
  /** Level assert (data bit 14); meaningful for level-triggered messages only. */
  assert: boolean;
  /** Level-triggered (data bit 15). */
  level: boolean;
}

const hex = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;
const VALID_MODES: ReadonlySet<number> = new Set([DeliveryMode.Fixed, DeliveryMode.LowestPriority, DeliveryMode.Smi, DeliveryMode.Nmi, DeliveryMode.Init]);

/** Decodes an MSI. Throws a HardwareError for an address outside the interrupt window or a reserved delivery mode. */
export function decodeMsi(message: MsiMessage): MsiFields {
  const { address, data } = message;
  if (!Number.isSafeInteger(address) || address < 0 || address > 0xffff_ffff || (address & MSI_ADDR_HEADER_MASK) >>> 0 !== MSI_ADDR_BASE) {
    throw new HardwareError('msi-address', `msi: address ${Number.isSafeInteger(address) ? hex(address) : String(address)} is outside the interrupt window 0xfee00000-0xfeefffff`);
  }
  const deliveryMode = (data >>> MSI_DATA_DELIVERY_MODE_SHIFT) & 7;
  if (!VALID_MODES.has(deliveryMode)) throw new HardwareError('msi-data', `msi: data ${hex(data >>> 0)} has reserved delivery mode ${deliveryMode}`);
  return {
    dest: (address >>> MSI_ADDR_DEST_ID_SHIFT) & 0xff,
    redirectionHint: (address & MSI_ADDR_REDIRECTION_HINT) !== 0,
    logical: (address & MSI_ADDR_DEST_MODE_LOGICAL) !== 0,
    vector: data & 0xff,
    deliveryMode: deliveryMode as DeliveryMode,
    assert: (data & MSI_DATA_LEVEL_ASSERT) !== 0,
    level: (data & MSI_DATA_TRIGGER_LEVEL) !== 0,
  };
}

/** Encodes fields into an MSI's address and data (the inverse of {@link decodeMsi}). */
export function encodeMsi(fields: MsiFields): MsiMessage {
  const address =
    (MSI_ADDR_BASE | ((fields.dest & 0xff) << MSI_ADDR_DEST_ID_SHIFT) | (fields.redirectionHint ? MSI_ADDR_REDIRECTION_HINT : 0) | (fields.logical ? MSI_ADDR_DEST_MODE_LOGICAL : 0)) >>> 0;
  const data =
    (fields.vector & 0xff) |
    ((fields.deliveryMode & 7) << MSI_DATA_DELIVERY_MODE_SHIFT) |
    (fields.assert ? MSI_DATA_LEVEL_ASSERT : 0) |
    (fields.level ? MSI_DATA_TRIGGER_LEVEL : 0);
  return { address, data };
}

/** The APIC-bus message an MSI becomes. */
export function msiToInterrupt(fields: MsiFields): InterruptMessage {
  return { vector: fields.vector, deliveryMode: fields.deliveryMode, logical: fields.logical, dest: fields.dest, level: fields.level };
}

/** Decodes `message` and delivers it on `bus` (Xen's `vmsi_deliver`). */
export function deliverMsi(bus: ApicBus, message: MsiMessage): void {
  bus.deliver(msiToInterrupt(decodeMsi(message)));
}

/** The MSI sender handed to a device model. */
export function createMsiSender(bus: ApicBus): MsiSender {
  return { send: (message) => deliverMsi(bus, message) };
}
