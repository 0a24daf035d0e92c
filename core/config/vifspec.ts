/** vifspec strings (xl-network-configuration(5)): comma-separated `key=value` settings and flags; `''` means every default. */
import { didYouMean } from './paths.js';
import type { SpecResult } from './spec-result.js';

/** A normalized virtual NIC. */
export interface VifSpec {
  /** Lower-case `xx:xx:xx:xx:xx:xx`; absent means the toolstack picks one in the Xen OUI 00:16:3e (deterministically from the seed). */
  mac?: string;
  bridge: string;
  /** `vif` (PV) or `ioemu` (emulated, HVM); absent means the guest type's default (HVM ioemu, else vif). */
  type?: 'vif' | 'ioemu';
  /** Emulated NIC model for HVM, e.g. e1000, rtl8139. */
  model?: string;
  vifname?: string;
  script: string;
  /** Addresses, space-separated as xl takes them. */
  ip?: string;
  /** Backend domain (name or id); absent means dom0. */
  backend?: string;
  /** Bandwidth limit as written (`10Mb/s@50ms`) and in bytes per second and µs replenish interval. */
  rate?: { text: string; bytesPerSecond: number; intervalUs: number };
  devid?: number;
  mtu?: number;
  gatewaydev?: string;
  vlan?: string;
  trusted: boolean;
}

const KEYS = ['mac', 'bridge', 'type', 'model', 'vifname', 'script', 'ip', 'backend', 'rate', 'devid', 'mtu', 'gatewaydev', 'forwarddev', 'vlan', 'trusted', 'untrusted'];

/** Parses a MAC address; rejects multicast addresses (a NIC must have a unicast one). */
export function parseMac(text: string): { mac: string } | { error: string } {
  if (!/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/.test(text)) return { error: `"${text}" is not a MAC address (six hex pairs: 00:16:3e:12:34:56)` };
  const mac = text.toLowerCase();
  if ((parseInt(mac.slice(0, 2), 16) & 1) !== 0) return { error: `MAC address ${mac} is a multicast address (the first octet must be even)` };
  return { mac };
}

/** Parses xl's rate syntax `N[K|M|G]{b|B}/s[@interval]` (interval in s, ms or us; default 50ms). */
export function parseRate(text: string): { bytesPerSecond: number; intervalUs: number } | { error: string } {
  const m = /^(\d+)([KMG]?)([bB])\/s(?:@(\d+)(s|ms|us))?$/.exec(text);
  if (!m) return { error: `"${text}" is not a rate (like 10Mb/s, 100MB/s or 10Mb/s@20ms)` };
  const scale = { '': 1, K: 1e3, M: 1e6, G: 1e9 }[m[2] as '' | 'K' | 'M' | 'G'];
  const perSecond = Number(m[1]) * scale;
  const bytesPerSecond = m[3] === 'b' ? perSecond / 8 : perSecond;
  const intervalUs = m[4] === undefined ? 50_000 : Number(m[4]) * { s: 1e6, ms: 1e3, us: 1 }[m[5] as 's' | 'ms' | 'us'];
  if (bytesPerSecond <= 0 || intervalUs <= 0) return { error: `rate "${text}" must be positive` };
  return { bytesPerSecond, intervalUs };
}

function integer(text: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

/** Parses a vifspec such as `mac=00:16:3E:74:3d:76,model=rtl8139,bridge=xenbr0`. */
export function parseVifSpec(spec: string): SpecResult<VifSpec> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const v: VifSpec = { bridge: 'xenbr0', script: 'vif-bridge', trusted: true };
  const seen = new Set<string>();
  for (const raw of spec.split(',')) {
    const token = raw.trim();
    if (token === '') continue;
    const eq = token.indexOf('=');
    const key = eq < 0 ? token : token.slice(0, eq).trim();
    const value = eq < 0 ? undefined : token.slice(eq + 1).trim();
    if (key === 'trusted' || key === 'untrusted') {
      if (value !== undefined) errors.push(`"${key}" is a flag and takes no value`);
      v.trusted = key === 'trusted';
      continue;
    }
    if (!KEYS.includes(key)) {
      errors.push(`unknown vif parameter "${key}"${didYouMean(key, KEYS)}`);
      continue;
    }
    if (value === undefined) {
      errors.push(`"${key}" needs a value: ${key}=...`);
      continue;
    }
    if (seen.has(key)) warnings.push(`"${key}" given twice; the last value wins`);
    seen.add(key);
    switch (key) {
      case 'mac': {
        const r = parseMac(value);
        if ('error' in r) errors.push(r.error);
        else v.mac = r.mac;
        break;
      }
      case 'type':
        if (value === 'vif' || value === 'ioemu') v.type = value;
        else errors.push(`unknown vif type "${value}" (use vif or ioemu)`);
        break;
      case 'rate': {
        const r = parseRate(value);
        if ('error' in r) errors.push(r.error);
        else v.rate = { text: value, ...r };
        break;
      }
      case 'devid': {
        const n = integer(value, 0, 0xffff);
        if (n === undefined) errors.push(`devid must be a whole number, got "${value}"`);
        else v.devid = n;
        break;
      }
      case 'mtu': {
        const n = integer(value, 68, 65535);
        if (n === undefined) errors.push(`mtu must be a whole number from 68 to 65535, got "${value}"`);
        else v.mtu = n;
        break;
      }
      case 'vlan':
        if (!/^\d+([:/,]\d+)*$/.test(value)) errors.push(`vlan must be a VLAN id like 10 (or xl's trunk form), got "${value}"`);
        else v.vlan = value;
        break;
      case 'forwarddev':
      case 'gatewaydev':
        v.gatewaydev = value;
        break;
      case 'bridge':
      case 'model':
      case 'vifname':
      case 'script':
      case 'ip':
      case 'backend':
        if (value === '') errors.push(`"${key}" must not be empty`);
        else v[key] = value;
        break;
    }
  }
  return errors.length > 0 ? { errors, warnings } : { value: v, errors, warnings };
}
