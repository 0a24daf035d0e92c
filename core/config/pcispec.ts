/** PCI addresses (`[DDDD:]BB:DD.F`) and xl's PCI_SPEC strings for passthrough (xl-pci-configuration(5)). */
import { didYouMean } from './paths.js';
import type { SpecResult } from './spec-result.js';

/** A PCI bus/device/function address in a segment. */
export interface PciAddress {
  segment: number;
  bus: number;
  device: number;
  function: number;
}

/** Parses `[DDDD:]BB:DD.F` (hex). */
export function parseBdf(text: string): { bdf: PciAddress } | { error: string } {
  const m = /^(?:([0-9A-Fa-f]{1,4}):)?([0-9A-Fa-f]{1,2}):([0-9A-Fa-f]{1,2})\.([0-7])$/.exec(text.trim());
  if (!m) return { error: `"${text}" is not a PCI address (like 00:19.0 or 0000:03:00.1)` };
  const device = parseInt(m[3]!, 16);
  if (device > 0x1f) return { error: `PCI device number ${m[3]} is above 1f in "${text}"` };
  return { bdf: { segment: m[1] === undefined ? 0 : parseInt(m[1], 16), bus: parseInt(m[2]!, 16), device, function: Number(m[4]) } };
}

/** Renders an address as `DDDD:BB:DD.F`, the way xenstore's `dev-N` holds it. */
export function formatBdf(a: PciAddress): string {
  const h = (n: number, w: number): string => n.toString(16).padStart(w, '0');
  return `${h(a.segment, 4)}:${h(a.bus, 2)}:${h(a.device, 2)}.${a.function}`;
}

/** A device to pass through to a guest. */
export interface PciSpec {
  address: PciAddress;
  /** Virtual slot in the guest, when pinned with `@VSLOT` or `vslot=`. */
  vslot?: number;
  permissive: boolean;
  msitranslate: boolean;
  seize: boolean;
  powerMgmt: boolean;
  rdmPolicy: 'strict' | 'relaxed';
  name?: string;
}

const KEYS = ['vslot', 'permissive', 'msitranslate', 'seize', 'power_mgmt', 'rdm_policy', 'name'];

/** Parses `[DDDD:]BB:DD.F[@VSLOT][,key=value]*`. */
export function parsePciSpec(spec: string): SpecResult<PciSpec> {
  const errors: string[] = [];
  const [head = '', ...opts] = spec.split(',');
  const [addr = '', slot] = head.trim().split('@');
  const parsed = parseBdf(addr);
  if ('error' in parsed) errors.push(parsed.error);
  const v: Omit<PciSpec, 'address'> = { permissive: false, msitranslate: false, seize: false, powerMgmt: false, rdmPolicy: 'strict' };
  const setSlot = (text: string): void => {
    if (!/^(0x)?[0-9A-Fa-f]{1,2}$/.test(text) || parseInt(text, 16) > 0x1f) errors.push(`virtual slot must be a hex number up to 1f, got "${text}"`);
    else v.vslot = parseInt(text, 16);
  };
  if (slot !== undefined) setSlot(slot);
  for (const raw of opts) {
    const token = raw.trim();
    if (token === '') continue;
    const [key = '', value] = token.split('=', 2).map((s) => s.trim());
    if (!KEYS.includes(key)) {
      errors.push(`unknown pci parameter "${key}"${didYouMean(key, KEYS)}`);
      continue;
    }
    if (value === undefined || value === '') {
      errors.push(`"${key}" needs a value: ${key}=...`);
      continue;
    }
    const flag = (): boolean | undefined => (value === '1' ? true : value === '0' ? false : (errors.push(`${key} must be 0 or 1, got "${value}"`), undefined));
    switch (key) {
      case 'vslot':
        setSlot(value);
        break;
      case 'rdm_policy':
        if (value === 'strict' || value === 'relaxed') v.rdmPolicy = value;
        else errors.push(`rdm_policy must be strict or relaxed, got "${value}"`);
        break;
      case 'name':
        v.name = value;
        break;
      case 'power_mgmt': {
        const b = flag();
        if (b !== undefined) v.powerMgmt = b;
        break;
      }
      default: {
        const b = flag();
        if (b !== undefined) v[key as 'permissive' | 'msitranslate' | 'seize'] = b;
      }
    }
  }
  if (errors.length > 0 || 'error' in parsed) return { errors, warnings: [] };
  return { value: { address: parsed.bdf, ...v }, errors, warnings: [] };
}
