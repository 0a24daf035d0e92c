/**
 * diskspec strings (xl-disk-configuration(5)), parsed by the rules of libxlu_disk_l.l: positional
 * `target, format, vdev, access`, `key=value` settings and flags in any order, `target=` last and
 * swallowing the rest, and the deprecated `phy:`/`file:`/`qcow2:`… prefixes and `hdc:cdrom` suffix.
 */
import { didYouMean } from './paths.js';
import type { SpecResult } from './spec-result.js';

/** Disk image formats xl names. `empty` is a CD-ROM drive with no medium. */
export const DISK_FORMATS = ['raw', 'qcow', 'qcow2', 'vhd', 'qed', 'empty'] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];
/** Backend implementations xl names. */
export const DISK_BACKEND_TYPES = ['phy', 'qdisk', 'tap', 'standalone'] as const;
export type DiskBackendType = (typeof DISK_BACKEND_TYPES)[number];

/** A normalized disk: the same whatever form the diskspec was written in. */
export interface DiskSpec {
  /** Image file or block device; empty for a CD-ROM drive without medium. */
  target: string;
  format: DiskFormat;
  /** Virtual device name as the guest sees it: `xvda`, `hdc`, `sda1`, `d0p1`. */
  vdev: string;
  access: 'ro' | 'rw';
  devtype: 'disk' | 'cdrom';
  /** Backend domain (name or id); absent means dom0. */
  backend?: string;
  backendtype?: DiskBackendType;
  script?: string;
  directIoSafe: boolean;
  /** Discard requests passed to the backend; absent means the backend's default. */
  discard?: boolean;
  trusted: boolean;
  specification: 'xen' | 'virtio';
  transport?: string;
}

interface State {
  target?: string;
  format?: DiskFormat;
  vdev?: string;
  access?: 'ro' | 'rw';
  accessSet: boolean;
  cdrom: boolean;
  hadPrefix: boolean;
  backend?: string;
  backendtype?: DiskBackendType;
  script?: string;
  directIoSafe: boolean;
  discard?: boolean;
  trusted: boolean;
  specification: 'xen' | 'virtio';
  transport?: string;
  errors: string[];
  warnings: string[];
}

type Action = (st: State, text: string, value: string) => void;

const strip = (text: string, ch: string): string => (text.endsWith(ch) ? text.slice(0, -1) : text);
const afterEquals = (text: string): string => strip(text.slice(text.indexOf('=') + 1), ',');

function setFormat(st: State, v: string): void {
  const f = v === '' ? 'raw' : v;
  if (!(DISK_FORMATS as readonly string[]).includes(f)) st.errors.push(`unknown disk format "${v}" (known: ${DISK_FORMATS.join(', ')})`);
  else if (st.format !== undefined && st.format !== f) st.errors.push(`format given twice ("${st.format}" and "${f}")`);
  else st.format = f as DiskFormat;
}

function setAccess(st: State, v: string): void {
  if (v === 'r' || v === 'ro') st.access = 'ro';
  else if (v === 'w' || v === 'rw' || v === '') st.access = 'rw';
  else st.errors.push(`unknown access "${v}" (use ro, r, rw or w)`);
}

function saveString(st: State, what: 'target' | 'vdev' | 'backend' | 'script' | 'transport', v: string): void {
  if (st[what] !== undefined && st[what] !== '') st.errors.push(`${what} given twice ("${st[what]}" and "${v}")`);
  else st[what] = v;
}

/** `hdc:cdrom` — a vdev with the deprecated device-type suffix. Returns false when there is no colon. */
function vdevAndDevtype(st: State, v: string): boolean {
  const colon = v.lastIndexOf(':');
  if (colon < 0) return false;
  saveString(st, 'vdev', v.slice(0, colon));
  const type = v.slice(colon + 1);
  if (type === 'cdrom') st.cdrom = true;
  else if (type === 'disk') st.cdrom = false;
  else st.errors.push(`unknown device type "${type}" after "${v.slice(0, colon)}:" (use cdrom or disk)`);
  return true;
}

function positional(st: State, v: string): boolean {
  if (st.target === undefined) st.target = v;
  else if (!st.hadPrefix && st.format === undefined) {
    if (st.target === '' && vdevAndDevtype(st, v)) st.format = 'empty';
    else setFormat(st, v);
  } else if (st.vdev === undefined) {
    if (!vdevAndDevtype(st, v)) saveString(st, 'vdev', v);
  } else if (!st.accessSet) {
    st.accessSet = true;
    setAccess(st, v);
  } else {
    st.errors.push(`too many positional parameters at "${v}" (the order is target, format, vdev, access)`);
    return false;
  }
  return true;
}

const KNOWN_KEYS = ['format', 'devtype', 'access', 'backend', 'backendtype', 'vdev', 'script', 'target', 'specification', 'transport'];
const COLO = 'COLO replication is not simulated; ignored';

/** The lexer rules in libxlu's order; the longest match wins, the earlier rule on a tie (as flex does). */
const RULES: readonly [RegExp, Action][] = [
  [/^format=[^,]*,?/, (st, t) => setFormat(st, afterEquals(t))],
  [/^cdrom,?/, (st) => void (st.cdrom = true)],
  [/^devtype=cdrom,?/, (st) => void (st.cdrom = true)],
  [/^devtype=disk,?/, (st) => void (st.cdrom = false)],
  [/^devtype=[^,]*,?/, (st, t) => void st.errors.push(`unknown devtype "${afterEquals(t)}" (use cdrom or disk)`)],
  [/^access=[^,]*,?/, (st, t) => setAccess(st, afterEquals(t))],
  [/^backend=[^,]*,?/, (st, t) => saveString(st, 'backend', afterEquals(t))],
  [/^backendtype=[^,]*,?/, (st, t) => {
    const v = afterEquals(t);
    if ((DISK_BACKEND_TYPES as readonly string[]).includes(v)) st.backendtype = v as DiskBackendType;
    else st.errors.push(`unknown backendtype "${v}" (known: ${DISK_BACKEND_TYPES.join(', ')})`);
  }],
  [/^vdev=[^,]*,?/, (st, t) => saveString(st, 'vdev', afterEquals(t))],
  [/^script=[^,]*,?/, (st, t) => saveString(st, 'script', afterEquals(t))],
  [/^direct-io-safe,?/, (st) => void (st.directIoSafe = true)],
  [/^discard,?/, (st) => void (st.discard = true)],
  [/^no-discard,?/, (st) => void (st.discard = false)],
  [/^trusted,?/, (st) => void (st.trusted = true)],
  [/^untrusted,?/, (st) => void (st.trusted = false)],
  [/^specification=[^,]*,?/, (st, t) => {
    const v = afterEquals(t);
    if (v === 'xen' || v === 'virtio') st.specification = v;
    else st.errors.push(`unknown specification "${v}" (use xen or virtio)`);
  }],
  [/^transport=[^,]*,?/, (st, t) => saveString(st, 'transport', afterEquals(t))],
  [/^(no-)?colo,?/, (st) => void st.warnings.push(COLO)],
  [/^(colo-host|colo-port|colo-export|active-disk|hidden-disk)=[^,]*,?/, (st) => void st.warnings.push(COLO)],
  [/^target=.*/s, (st, t) => saveString(st, 'target', afterEquals(t))],
  [/^[a-z][-a-z0-9]*=[^,]*,?/, (st, t) => {
    const key = t.slice(0, t.indexOf('='));
    st.errors.push(`unknown disk parameter "${key}"${didYouMean(key, KNOWN_KEYS)}`);
  }],
  [/^(raw|qcow2?|vhd):.*/s, (st, t) => {
    st.hadPrefix = true;
    setFormat(st, t.slice(0, t.indexOf(':')));
  }],
  [/^(iscsi|e?nbd|drbd):.*/s, (st, t) => {
    st.hadPrefix = true;
    saveString(st, 'script', `block-${t.slice(0, t.indexOf(':'))}`);
  }],
  [/^(tapdisk|tap2?|aio|ioemu|file|phy):.*/s, (st) => void (st.hadPrefix = true)],
  [/^[a-z][a-z0-9]*:([^a-z0-9].*)?$/s, (st, t) => void st.errors.push(`unknown deprecated disk prefix "${t.slice(0, t.indexOf(':') + 1)}"`)],
  [/^(?:[^=,]*,|[^=,]+,?)/, () => undefined],
];

/** How many characters of the text a deprecated-prefix rule consumes: only the prefix (the rest is trailing context). */
function consumed(index: number, match: string): number {
  const rule = RULES[index]![0].source;
  if (rule.includes('):.*') || rule.includes(':([^a-z0-9]')) return match.indexOf(':') + 1;
  return match.length;
}


/** Parses a diskspec. Equivalent spellings give identical {@link DiskSpec}s. */
export function parseDiskSpec(spec: string): SpecResult<DiskSpec> {
  const st: State = { accessSet: false, cdrom: false, hadPrefix: false, directIoSafe: false, trusted: true, specification: 'xen', errors: [], warnings: [] };
  let pos = 0;
  while (pos < spec.length) {
    const rest = spec.slice(pos);
    const ws = /^[ \t\n]+/.exec(rest);
    if (ws) {
      pos += ws[0].length;
      continue;
    }
    let best = -1;
    let bestLen = 0;
    let bestText = '';
    RULES.forEach(([re], i) => {
      const m = re.exec(rest);
      if (m && m[0].length > bestLen) {
        best = i;
        bestLen = m[0].length;
        bestText = m[0];
      }
    });
    if (best < 0) {
      st.errors.push(`bad disk syntax at ${JSON.stringify(rest)} (a target containing "=" must be written target=...)`);
      break;
    }
    const n = consumed(best, bestText);
    const text = bestText.slice(0, n);
    pos += n;
    if (best === RULES.length - 1) {
      if (st.errors.length > 0) continue;
      if (!positional(st, strip(text, ','))) break;
    } else {
      RULES[best]![1](st, text, '');
    }
  }
  if (st.errors.length > 0) return { errors: st.errors, warnings: st.warnings };
  if (st.vdev === undefined || st.vdev === '') st.errors.push('no vdev given (the virtual device, e.g. xvda: the third positional value or vdev=)');
  else if (vdevNumber(st.vdev) === undefined) st.errors.push(`"${st.vdev}" is not a virtual device name (use xvdX, hdX, sdX or dNpM)`);
  const target = st.target ?? '';
  if (target === '' && !st.cdrom) st.errors.push('no target given (the image file or device: the first positional value or target=)');
  if (st.errors.length > 0) return { errors: st.errors, warnings: st.warnings };
  const value: DiskSpec = {
    target,
    format: st.cdrom && target === '' ? 'empty' : (st.format ?? 'raw'),
    vdev: st.vdev!,
    access: st.cdrom ? 'ro' : (st.access ?? 'rw'),
    devtype: st.cdrom ? 'cdrom' : 'disk',
    directIoSafe: st.directIoSafe,
    trusted: st.trusted,
    specification: st.specification,
    ...(st.backend !== undefined ? { backend: st.backend } : {}),
    ...(st.backendtype !== undefined ? { backendtype: st.backendtype } : {}),
    ...(st.script !== undefined ? { script: st.script } : {}),
    ...(st.discard !== undefined ? { discard: st.discard } : {}),
    ...(st.transport !== undefined ? { transport: st.transport } : {}),
  };
  return { value, errors: [], warnings: st.warnings };
}

function letters(s: string): number {
  let n = 0;
  for (const ch of s) n = n * 26 + (ch.charCodeAt(0) - 96);
  return n - 1;
}

/**
 * The xenstore `virtual-device` number of a vdev name (xen-vbd-interface(7)): xvda = 51712,
 * sda = 2048, hda = 768, hdc = 5632, d0p1 = 268435457. Undefined when the name is not valid.
 */
export function vdevNumber(vdev: string): number | undefined {
  let m: RegExpExecArray | null;
  if ((m = /^xvd([a-z]+)(\d*)$/.exec(vdev))) {
    const disk = letters(m[1]!);
    const part = m[2] === '' ? 0 : Number(m[2]);
    if (disk <= 15 && part <= 15) return (202 << 8) | (disk << 4) | part;
    if (disk >= 1 << 20 || part > 255) return undefined;
    return (1 << 28) | (disk << 8) | part;
  }
  if ((m = /^sd([a-z]+)(\d*)$/.exec(vdev))) {
    const disk = letters(m[1]!);
    const part = m[2] === '' ? 0 : Number(m[2]);
    if (disk <= 15 && part <= 15) return (8 << 8) | (disk << 4) | part;
    if (disk >= 1 << 20 || part > 255) return undefined;
    return (1 << 28) | (disk << 8) | part;
  }
  if ((m = /^hd([a-d])(\d*)$/.exec(vdev))) {
    const disk = letters(m[1]!);
    const part = m[2] === '' ? 0 : Number(m[2]);
    if (part > 63) return undefined;
    return disk < 2 ? (3 << 8) | (disk << 6) | part : (22 << 8) | ((disk - 2) << 6) | part;
  }
  if ((m = /^d(\d+)(?:p(\d+))?$/.exec(vdev))) {
    const disk = Number(m[1]);
    const part = m[2] === undefined ? 0 : Number(m[2]);
    if (disk >= 1 << 20 || part > 255) return undefined;
    return (1 << 28) | (disk << 8) | part;
  }
  return undefined;
}
