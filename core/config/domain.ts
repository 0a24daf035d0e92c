/** Turns xl.cfg settings — from an xl.cfg file or a YAML guest definition — into a validated {@link DomainConfig}. */
import { ConfigError, type ErrorLocation } from '../api/errors.js';
import { parseCpuSet, type CpuAffinity, type CpuSet } from './cpuset.js';
import { parseDiskSpec, type DiskSpec } from './diskspec.js';
import { DOMAIN_ACTIONS, DOMAIN_TYPES, type DomainAction, type DomainConfig, type DomainType, type DomainVif } from './domain-config.js';
import { didYouMean, formatPath, type LineLookup, type PathSegment } from './paths.js';
import { formatBdf, parsePciSpec, type PciSpec } from './pcispec.js';
import type { SpecResult } from './spec-result.js';
import { describeValue, formatSize, parseSize } from './units.js';
import { parseVifSpec } from './vifspec.js';
import { parseXlConfig, xlNumberValue, type XlConfig, type XlSetting, type XlValue } from './xl-cfg.js';
import { XL_KEY_INDEX, XL_KEYS } from './xl-keys.js';

/** A guest, or why there is none. Warnings never stop a guest from being defined. */
export interface DomainResult {
  domain?: DomainConfig;
  errors: ConfigError[];
  warnings: ConfigError[];
}

/** Where the settings came from, so errors can name file, line and key path. */
export interface DomainOrigin {
  file: string;
  /** `xl` reads memory as MiB only, like xl; `yaml` also takes sizes such as "512MiB". */
  syntax: 'xl' | 'yaml';
  /** Key path of the guest inside its file (an inline guest in a host definition: `domains[3]`). */
  basePath?: readonly PathSegment[];
  /** Line where the definition starts. */
  line?: number;
}

const MIB = 1024 * 1024;
const XL_DEFAULT_MEMORY_MIB = 32;

/** Parses xl.cfg text and interprets it: syntax errors first, then every setting's problems. */
export function parseDomainXl(text: string, file: string): DomainResult {
  const parsed = parseXlConfig(text, file);
  if (parsed.errors.length > 0) return { errors: parsed.errors, warnings: parsed.warnings };
  const r = interpretDomain(parsed.config, { file, syntax: 'xl' });
  return { ...r, warnings: [...parsed.warnings, ...r.warnings] };
}

/** Converts a YAML guest (a map with xl.cfg's keys) into xl settings, then interprets them exactly as an xl.cfg file. */
export function domainFromYaml(value: unknown, origin: { file: string; basePath?: readonly PathSegment[]; lineOf?: LineLookup }): DomainResult {
  const base = origin.basePath ?? [];
  const lineOf = (p: readonly PathSegment[]): number | undefined => origin.lineOf?.(p);
  const where = (p: readonly PathSegment[]): ErrorLocation => ({ file: origin.file, path: formatPath(p), ...opt('line', lineOf(p)) });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { errors: [new ConfigError(`expected a guest definition (a map of xl.cfg keys), got ${describeValue(value)}`, where(base))], warnings: [] };
  }
  const errors: ConfigError[] = [];
  const convert = (v: unknown, p: PathSegment[]): XlValue | undefined => {
    const line = lineOf(p) ?? lineOf(base) ?? 0;
    if (typeof v === 'string') return { kind: 'string', value: v, line };
    if (typeof v === 'number') return { kind: 'number', text: String(v), line };
    if (typeof v === 'boolean') return { kind: 'number', text: v ? '1' : '0', line };
    if (Array.isArray(v)) {
      const items = v.map((item, i) => convert(item, [...p, i]));
      return items.every((i) => i !== undefined) ? { kind: 'list', items: items as XlValue[], line } : undefined;
    }
    errors.push(new ConfigError(v === null || v === undefined ? 'has no value' : `expected a string, number or list, got ${describeValue(v)}`, where(p)));
    return undefined;
  };
  const settings: XlSetting[] = [];
  for (const [key, v] of Object.entries(value)) {
    const xv = convert(v, [...base, key]);
    if (xv !== undefined) settings.push({ key, value: xv, line: lineOf([...base, key]) ?? 0 });
  }
  const r = interpretDomain({ file: origin.file, settings }, { file: origin.file, syntax: 'yaml', basePath: base, ...opt('line', lineOf(base)) });
  return { ...(errors.length === 0 && r.domain ? { domain: r.domain } : {}), errors: [...errors, ...r.errors], warnings: r.warnings };
}

function opt<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [k in K]?: V };
}

/** Interprets parsed settings into a {@link DomainConfig}: every unknown key and bad value is an error; keys xl knows that are not simulated are warnings. */
export function interpretDomain(cfg: XlConfig, origin: DomainOrigin): DomainResult {
  const errors: ConfigError[] = [];
  const warnings: ConfigError[] = [];
  const base = origin.basePath ?? [];
  const byKey = new Map<string, XlSetting>();
  const at = (s: XlSetting | XlValue, path: PathSegment[]): ErrorLocation => ({
    file: origin.file,
    path: formatPath([...base, ...path]),
    ...(s.line > 0 ? { line: s.line } : {}),
  });
  const fail = (s: XlSetting | XlValue, path: PathSegment[], detail: string): undefined => {
    errors.push(new ConfigError(detail, at(s, path)));
    return undefined;
  };

  for (const s of cfg.settings) {
    const known = XL_KEY_INDEX.get(s.key);
    if (known === undefined) fail(s, [s.key], `unknown xl.cfg key "${s.key}"${didYouMean(s.key, XL_KEYS.map((k) => k.key))}`);
    else if (known.status === 'unsupported') warnings.push(new ConfigError(`"${s.key}" is an xl.cfg key xenoserver does not support yet; it is ignored`, at(s, [s.key])));
    else byKey.set(s.key, s);
  }

  const atom = (key: string): { s: XlSetting; text: string; isNumber: boolean } | undefined => {
    const s = byKey.get(key);
    if (s === undefined) return undefined;
    if (s.value.kind === 'list') return fail(s, [key], `expected a single value, got a list`);
    return { s, text: s.value.kind === 'string' ? s.value.value : s.value.text, isNumber: s.value.kind === 'number' };
  };
  const str = (key: string): string | undefined => atom(key)?.text;
  const int = (key: string, min: number, max: number, what = 'a whole number'): number | undefined => {
    const a = atom(key);
    if (a === undefined) return undefined;
    const n = xlNumberValue(a.text);
    if (n === undefined) return fail(a.s, [key], `expected ${what}, got ${JSON.stringify(a.text)}`);
    if (n < min || n > max) return fail(a.s, [key], `must be from ${min} to ${max}, got ${n}`);
    return n;
  };
  const bool = (key: string): boolean | undefined => {
    const a = atom(key);
    if (a === undefined) return undefined;
    const n = xlNumberValue(a.text);
    if (n === undefined) return fail(a.s, [key], `expected 1 or 0, got ${JSON.stringify(a.text)}`);
    return n !== 0;
  };
  const size = (key: string): number | undefined => {
    const a = atom(key);
    if (a === undefined) return undefined;
    if (origin.syntax === 'xl' || a.isNumber) {
      const n = xlNumberValue(a.text);
      if (n === undefined || n < 0) return fail(a.s, [key], `expected a number of MiB${origin.syntax === 'xl' ? ' (xl.cfg takes no units)' : ''}, got ${JSON.stringify(a.text)}`);
      return n * MIB;
    }
    const r = parseSize(a.text);
    return 'error' in r ? fail(a.s, [key], r.error) : r.bytes;
  };
  const choice = <T extends string>(key: string, choices: readonly T[]): T | undefined => {
    const v = str(key);
    if (v === undefined) return undefined;
    if ((choices as readonly string[]).includes(v)) return v as T;
    return fail(byKey.get(key)!, [key], `expected one of ${choices.join(', ')}, got ${JSON.stringify(v)}${didYouMean(v, choices)}`);
  };
  const list = (key: string): { s: XlSetting; items: { text: string; v: XlValue }[] } | undefined => {
    const s = byKey.get(key);
    if (s === undefined) return undefined;
    if (s.value.kind !== 'list') return fail(s, [key], `expected a list: ${key} = [ ${s.value.kind === 'string' ? JSON.stringify(s.value.value) : s.value.text} ]`);
    const items: { text: string; v: XlValue }[] = [];
    s.value.items.forEach((v, i) => {
      if (v.kind === 'list') fail(v, [key, i], 'expected a string, got a list');
      else items.push({ text: v.kind === 'string' ? v.value : v.text, v });
    });
    return { s, items };
  };
  const specs = <T>(key: string, parse: (text: string) => SpecResult<T>): { value: T; index: number; v: XlValue }[] => {
    const l = list(key);
    const out: { value: T; index: number; v: XlValue }[] = [];
    l?.items.forEach(({ text, v }, index) => {
      const r = parse(text);
      for (const e of r.errors) fail(v, [key, index], e);
      for (const w of r.warnings) warnings.push(new ConfigError(w, at(v, [key, index])));
      if (r.value !== undefined) out.push({ value: r.value, index, v });
    });
    return out;
  };

  const name = str('name');
  if (name === undefined) errors.push(new ConfigError('missing required key "name" (the guest\'s name)', { file: origin.file, ...(base.length > 0 ? { path: formatPath(base) } : {}), ...opt('line', origin.line) }));
  else if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) fail(byKey.get('name')!, ['name'], `guest names are letters, digits, ".", "_" and "-", got ${JSON.stringify(name)}`);

  let type: DomainType = 'pv';
  const typeKey = choice('type', DOMAIN_TYPES);
  const builder = choice('builder', ['generic', 'hvm'] as const);
  const pvh = bool('pvh');
  if (typeKey !== undefined) {
    type = typeKey;
    if (builder !== undefined) warnings.push(new ConfigError('"builder" is ignored because "type" is set', at(byKey.get('builder')!, ['builder'])));
  } else if (builder !== undefined) type = builder === 'hvm' ? 'hvm' : 'pv';
  else if (pvh === true) type = 'pvh';

  const uuid = str('uuid');
  if (uuid !== undefined && !/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(uuid)) fail(byKey.get('uuid')!, ['uuid'], `expected a UUID like 3f2504e0-4f89-11d3-9a0c-0305e82c3301, got ${JSON.stringify(uuid)}`);

  const memoryGiven = size('memory');
  const memoryBytes = memoryGiven ?? XL_DEFAULT_MEMORY_MIB * MIB;
  const maxmemGiven = size('maxmem');
  const maxmemBytes = maxmemGiven ?? memoryBytes;
  const memoryBad = byKey.has('memory') && memoryGiven === undefined;
  if (memoryBytes === 0) fail(byKey.get('memory')!, ['memory'], 'memory must be more than 0');
  if (!memoryBad && maxmemGiven !== undefined && maxmemBytes < memoryBytes) fail(byKey.get('maxmem')!, ['maxmem'], `maxmem (${formatSize(maxmemBytes)}) must be at least memory (${formatSize(memoryBytes)})`);
  if (memoryBytes % 4096 !== 0) fail(byKey.get('memory')!, ['memory'], `memory must be a whole number of 4 KiB pages, got ${memoryBytes} bytes`);

  const vcpus = int('vcpus', 1, 512) ?? 1;
  const maxvcpus = int('maxvcpus', 1, 512) ?? vcpus;
  if (maxvcpus < vcpus) fail(byKey.get('maxvcpus')!, ['maxvcpus'], `maxvcpus (${maxvcpus}) must be at least vcpus (${vcpus})`);

  const cpus = affinity(byKey.get('cpus'), fail);

  const kernel = str('kernel');
  const ramdisk = str('ramdisk');
  if (kernel === undefined && type !== 'hvm') {
    errors.push(new ConfigError(`a ${type} guest needs a kernel: kernel = "generic" boots the reference guest kernel`, { file: origin.file, ...(base.length > 0 ? { path: formatPath(base) } : {}), ...opt('line', origin.line) }));
  }
  let cmdline = str('cmdline');
  const root = str('root');
  const extra = str('extra');
  if (cmdline !== undefined && (root !== undefined || extra !== undefined)) {
    const k = root !== undefined ? 'root' : 'extra';
    warnings.push(new ConfigError(`"${k}" is ignored because "cmdline" is set`, at(byKey.get(k)!, [k])));
  } else if (root !== undefined || extra !== undefined) {
    cmdline = [root !== undefined ? `root=${root}` : undefined, extra].filter((x) => x !== undefined).join(' ');
  }

  const disks = specs<DiskSpec>('disk', parseDiskSpec);
  const vifs = specs('vif', parseVifSpec);
  const pcis = specs<PciSpec>('pci', parsePciSpec);
  unique(disks, (d) => d.vdev, 'vdev', 'disk', fail);
  unique(vifs.filter((v) => v.value.mac !== undefined), (v) => v.mac!, 'MAC address', 'vif', fail);
  unique(vifs.filter((v) => v.value.devid !== undefined), (v) => String(v.devid), 'devid', 'vif', fail);
  unique(pcis, (p) => formatBdf(p.address), 'PCI device', 'pci', fail);

  const action = (key: string, dflt: DomainAction): DomainAction => choice(key, DOMAIN_ACTIONS) ?? dflt;
  const onPoweroff = action('on_poweroff', 'destroy');
  const onReboot = action('on_reboot', 'restart');
  const onWatchdog = action('on_watchdog', 'destroy');
  const onCrash = action('on_crash', 'destroy');
  const onSoftReset = action('on_soft_reset', 'soft-reset');

  const xenPlatformPci = bool('xen_platform_pci') ?? true;
  const dmv = choice('device_model_version', ['qemu-xen', 'qemu-xen-traditional'] as const);
  if (dmv !== undefined && type !== 'hvm') warnings.push(new ConfigError(`"device_model_version" only applies to hvm guests; this one is ${type}`, at(byKey.get('device_model_version')!, ['device_model_version'])));
  const serialSetting = byKey.get('serial');
  let serial: string[] = [];
  if (serialSetting?.value.kind === 'list') serial = list('serial')?.items.map((i) => i.text) ?? [];
  else if (serialSetting !== undefined) serial = [str('serial') ?? ''];
  const seed = int('seed', 0, Number.MAX_SAFE_INTEGER, 'a whole number (the seed)');
  // libxl passes max_event_channels as the domain's highest event-channel port; the 2-level ABI has 4096.
  const maxEventChannels = int('max_event_channels', 1, 4095, 'a number of event channels up to 4095 (the 2-level ABI)');
  const maxGrantFrames = int('max_grant_frames', 1, 65536, 'a number of grant-table frames');
  const maxMaptrackFrames = int('max_maptrack_frames', 1, 65536, 'a number of maptrack frames');

  if (errors.length > 0) return { errors: byLine(errors), warnings: byLine(warnings) };
  const domain: DomainConfig = {
    source: { file: origin.file, ...(base.length > 0 ? { path: formatPath(base) } : {}), ...opt('line', origin.line) },
    name: name!,
    ...opt('uuid', uuid?.toLowerCase()),
    type,
    memoryBytes,
    maxmemBytes,
    vcpus,
    maxvcpus,
    cpus,
    ...opt('kernel', kernel),
    ...opt('ramdisk', ramdisk),
    ...opt('cmdline', cmdline),
    disk: disks.map((d) => d.value),
    vif: vifs.map((v): DomainVif => ({ ...v.value, type: v.value.type ?? (type === 'hvm' ? 'ioemu' : 'vif') })),
    pci: pcis.map((p) => p.value),
    onPoweroff,
    onReboot,
    onWatchdog,
    onCrash,
    onSoftReset,
    xenPlatformPci,
    ...(type === 'hvm' ? { deviceModelVersion: dmv ?? 'qemu-xen' } : {}),
    serial,
    ...opt('seed', seed),
    ...opt('maxEventChannels', maxEventChannels),
    ...opt('maxGrantFrames', maxGrantFrames),
    ...opt('maxMaptrackFrames', maxMaptrackFrames),
  };
  return { domain, errors, warnings: byLine(warnings) };
}

/** Orders messages by line, keeping the order of those on the same line. */
function byLine(list: ConfigError[]): ConfigError[] {
  return list
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (a.e.where.line ?? 0) - (b.e.where.line ?? 0) || a.i - b.i)
    .map((x) => x.e);
}

type Fail = (s: XlSetting | XlValue, path: PathSegment[], detail: string) => undefined;

function affinity(s: XlSetting | undefined, fail: Fail): CpuAffinity {
  if (s === undefined) return { all: 'all', perVcpu: [] };
  const one = (v: XlValue, path: PathSegment[]): CpuSet => {
    if (v.kind === 'list') return fail(v, path, 'expected a CPU list string, got a list') ?? 'all';
    const r = parseCpuSet(v.kind === 'string' ? v.value : v.text);
    for (const e of r.errors) fail(v, path, e);
    return r.value ?? 'all';
  };
  if (s.value.kind === 'list') return { all: 'all', perVcpu: s.value.items.map((v, i) => one(v, ['cpus', i])) };
  return { all: one(s.value, ['cpus']), perVcpu: [] };
}

function unique<T>(items: { value: T; index: number; v: XlValue }[], keyOf: (t: T) => string, what: string, key: string, fail: Fail): void {
  const seen = new Map<string, number>();
  for (const it of items) {
    const k = keyOf(it.value);
    const first = seen.get(k);
    if (first !== undefined) fail(it.v, [key, it.index], `${what} ${k} is already used by ${key}[${first}]`);
    else seen.set(k, it.index);
  }
}
