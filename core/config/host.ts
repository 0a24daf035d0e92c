/** Turns a host definition as written into a {@link ResolvedHost}: validated, defaults applied, sizes in bytes, durations in ns, guests loaded. */
import { Type } from '@sinclair/typebox';
import { ConfigError } from '../api/errors.js';
import { makeCostModel, type CostModel } from '../engine/cost-model.js';
import type { DomainConfig } from './domain-config.js';
import { domainFromYaml, type DomainResult } from './domain.js';
import { makeHostSchema } from './host-schema.js';
import { formatPath, type LineLookup, type PathSegment } from './paths.js';
import { formatBdf, parseBdf, type PciAddress } from './pcispec.js';
import { formatSize, parseDuration, parseSize } from './units.js';
import { validate } from './validate.js';

/** A plugin to enable: exactly one of `name` (a plugin of this tree) or `package` (an npm package). */
export interface ResolvedPlugin {
  name?: string;
  package?: string;
  /** Not yet validated: the plugin host checks them against the plugin's configSchema with {@link validate}, at `path`. */
  options: unknown;
  /** Key path of the entry's options, for errors: `plugins[2].options`. */
  path: PathSegment[];
}

/** A physical PCI device of the host. */
export interface ResolvedDevice {
  address: PciAddress;
  /** `DDDD:BB:DD.F`. */
  bdf: string;
  kind: 'nic' | 'storage' | 'display' | 'usb' | 'other';
  model: string;
  options: Record<string, unknown>;
}

/** A host definition, normalized. Sizes are bytes, durations nanoseconds. */
export interface ResolvedHost {
  /** The definition file, as messages name it. */
  file: string;
  /** Maps a key path of the definition to its line (for the plugin host's option errors). */
  lineOf: LineLookup;
  name: string;
  /** `run/<name>`, relative to the working directory. */
  runDir: string;
  seed: number;
  cpus: { count: number; mhz: number };
  memoryBytes: number;
  scheduler: string;
  paging: 'hap' | 'shadow';
  /** The complete cost model: defaults, overrides and cpus.mhz. */
  cost: CostModel;
  pacing: 'afap' | 'realtime';
  features: string[];
  build?: string;
  dom0: { memoryBytes: number; vcpus: number };
  plugins: ResolvedPlugin[];
  devices: ResolvedDevice[];
  domains: DomainConfig[];
  /** How long `xeno run` simulates; null means until stopped. */
  run: { durationNs: number | null };
}

/** A host, or everything wrong with its definition (errors in guest files name those files). */
export interface HostResult {
  host?: ResolvedHost;
  errors: ConfigError[];
  warnings: ConfigError[];
}

/** How to read a guest file named in `domains[]`, relative to the host file. */
export type DomainFileLoader = (relativePath: string) => DomainResult & { file?: string };

const ValidationSchema = makeHostSchema({
  domainEntry: Type.Union([Type.String({ minLength: 1 }), Type.Object({}, { additionalProperties: true })], { expected: 'a guest file path or an inline guest definition' }),
});

/**
 * Validates and normalizes a host definition. Every error of the file is collected (schema, sizes,
 * costs, guests) so the user sees them all at once.
 */
export function resolveHostDefinition(value: unknown, ctx: { file: string; lineOf?: LineLookup; loadDomainFile: DomainFileLoader }): HostResult {
  const lineOf: LineLookup = ctx.lineOf ?? (() => undefined);
  const errors = validate(ValidationSchema, value, { file: ctx.file, lineOf });
  const warnings: ConfigError[] = [];
  const err = (path: PathSegment[], detail: string): void => {
    let line: number | undefined;
    for (let n = path.length; n >= 0 && line === undefined; n--) line = lineOf(path.slice(0, n));
    errors.push(new ConfigError(detail, { file: ctx.file, path: formatPath(path), ...(line !== undefined ? { line } : {}) }));
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { errors, warnings };
  const v = value as Record<string, unknown>;
  const schemaOk = errors.length === 0;

  const size = (path: PathSegment[], raw: unknown, dflt: string): number => {
    const r = parseSize(raw ?? dflt);
    if ('error' in r) {
      if (schemaOk) err(path, r.error);
      return 0;
    }
    return r.bytes;
  };
  const memoryBytes = size(['memory'], v.memory, '4GiB');
  const dom0Raw = (v.dom0 ?? {}) as Record<string, unknown>;
  const dom0 = { memoryBytes: size(['dom0', 'memory'], dom0Raw.memory, '512MiB'), vcpus: typeof dom0Raw.vcpus === 'number' ? dom0Raw.vcpus : 1 };

  const cpusRaw = v.cpus;
  const costRaw = (typeof v.cost === 'object' && v.cost !== null ? v.cost : {}) as Record<string, number>;
  const mhzFromCpus = typeof cpusRaw === 'object' && cpusRaw !== null ? (cpusRaw as { mhz?: number }).mhz : undefined;
  if (mhzFromCpus !== undefined && costRaw.cpuMhz !== undefined && mhzFromCpus !== costRaw.cpuMhz) err(['cost', 'cpuMhz'], `cost.cpuMhz (${costRaw.cpuMhz}) contradicts cpus.mhz (${mhzFromCpus}); give the clock once`);
  let cost: CostModel | undefined;
  try {
    cost = makeCostModel({ ...costRaw, ...(mhzFromCpus !== undefined ? { cpuMhz: mhzFromCpus } : {}) });
  } catch (e) {
    if (schemaOk) err(['cost'], (e as Error).message);
  }
  const count = typeof cpusRaw === 'number' ? cpusRaw : typeof cpusRaw === 'object' && cpusRaw !== null ? ((cpusRaw as { count?: number }).count ?? 1) : 1;
  if (dom0.vcpus > count && schemaOk) warnings.push(new ConfigError(`dom0 has ${dom0.vcpus} vCPUs on ${count} physical CPUs`, { file: ctx.file, path: 'dom0.vcpus', ...lineAt(lineOf, ['dom0', 'vcpus']) }));

  let durationNs: number | null = null;
  const runRaw = (v.run ?? {}) as Record<string, unknown>;
  if (runRaw.duration !== undefined) {
    const r = parseDuration(runRaw.duration);
    if ('error' in r) {
      if (schemaOk) err(['run', 'duration'], r.error);
    } else durationNs = r.ns;
  }

  const plugins: ResolvedPlugin[] = [];
  const pluginNames = new Map<string, number>();
  (Array.isArray(v.plugins) ? v.plugins : []).forEach((p: unknown, i: number) => {
    const entry: ResolvedPlugin | undefined =
      typeof p === 'string'
        ? { name: p, options: {}, path: ['plugins', i, 'options'] }
        : typeof p === 'object' && p !== null
          ? { ...('name' in p ? { name: String(p.name) } : {}), ...('package' in p ? { package: String(p.package) } : {}), options: (p as { options?: unknown }).options ?? {}, path: ['plugins', i, 'options'] }
          : undefined;
    if (entry === undefined) return;
    const id = entry.name ?? `package:${entry.package ?? ''}`;
    const first = pluginNames.get(id);
    if (first !== undefined) err(['plugins', i], `plugin ${entry.name ?? entry.package} is already listed at plugins[${first}]`);
    else pluginNames.set(id, i);
    plugins.push(entry);
  });

  const devices: ResolvedDevice[] = [];
  const bdfs = new Map<string, number>();
  (Array.isArray(v.devices) ? v.devices : []).forEach((d: unknown, i: number) => {
    if (typeof d !== 'object' || d === null) return;
    const dev = d as { bdf?: unknown; kind?: ResolvedDevice['kind']; model?: string; options?: Record<string, unknown> };
    if (typeof dev.bdf !== 'string') return;
    const r = parseBdf(dev.bdf);
    if ('error' in r) {
      if (schemaOk) err(['devices', i, 'bdf'], r.error);
      return;
    }
    const bdf = formatBdf(r.bdf);
    const first = bdfs.get(bdf);
    if (first !== undefined) err(['devices', i, 'bdf'], `PCI address ${bdf} is already used by devices[${first}]`);
    bdfs.set(bdf, i);
    devices.push({ address: r.bdf, bdf, kind: dev.kind ?? 'other', model: dev.model ?? '', options: dev.options ?? {} });
  });

  const domains: DomainConfig[] = [];
  const names = new Map<string, number>([['Domain-0', -1]]);
  (Array.isArray(v.domains) ? v.domains : []).forEach((entry: unknown, i: number) => {
    let r: DomainResult;
    if (typeof entry === 'string') {
      r = ctx.loadDomainFile(entry);
      for (const e of r.errors) {
        if (e.where.file === undefined) err(['domains', i], e.detail);
        else errors.push(e);
      }
    } else if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
      r = domainFromYaml(entry, { file: ctx.file, basePath: ['domains', i], lineOf });
      errors.push(...r.errors);
    } else return;
    warnings.push(...r.warnings);
    const d = r.domain;
    if (d === undefined) return;
    const first = names.get(d.name);
    if (first !== undefined) err(['domains', i], first < 0 ? 'a guest cannot be named Domain-0 (that is dom0)' : `guest name "${d.name}" is already used by domains[${first}]`);
    names.set(d.name, i);
    for (const set of [d.cpus.all, ...d.cpus.perVcpu]) {
      const high = set === 'all' ? undefined : set.find((c) => c >= count);
      if (high !== undefined) err(['domains', i], `guest "${d.name}" is pinned to CPU ${high} but the host has ${count} (0-${count - 1})`);
    }
    d.pci.forEach((p, j) => {
      if (!bdfs.has(formatBdf(p.address))) err(['domains', i], `guest "${d.name}" pci[${j}]: ${formatBdf(p.address)} is not among the host's devices`);
    });
    domains.push(d);
  });

  const needed = dom0.memoryBytes + domains.reduce((sum, d) => sum + d.memoryBytes, 0);
  if (schemaOk && memoryBytes > 0 && needed > memoryBytes) err(['memory'], `dom0 and the guests need ${formatSize(needed)} but the host has ${formatSize(memoryBytes)}`);

  if (errors.length > 0 || cost === undefined) return { errors: byFileAndLine(errors), warnings: byFileAndLine(warnings) };
  const name = v.name as string;
  return {
    host: {
      file: ctx.file,
      lineOf,
      name,
      runDir: `run/${name}`,
      seed: typeof v.seed === 'number' ? v.seed : 0,
      cpus: { count, mhz: cost.cpuMhz },
      memoryBytes,
      scheduler: typeof v.scheduler === 'string' ? v.scheduler : 'credit',
      paging: v.paging === 'shadow' ? 'shadow' : 'hap',
      cost,
      pacing: v.pacing === 'realtime' ? 'realtime' : 'afap',
      features: Array.isArray(v.features) ? (v.features as string[]) : [],
      ...(typeof v.build === 'string' ? { build: v.build } : {}),
      dom0,
      plugins,
      devices,
      domains,
      run: { durationNs },
    },
    errors,
    warnings: byFileAndLine(warnings),
  };
}

/** Orders messages by file (in order of first appearance), then line, keeping the order of equal ones. */
function byFileAndLine(list: ConfigError[]): ConfigError[] {
  const files = [...new Set(list.map((e) => e.where.file ?? ''))];
  return list
    .map((e, i) => ({ e, i }))
    .sort((a, b) => files.indexOf(a.e.where.file ?? '') - files.indexOf(b.e.where.file ?? '') || (a.e.where.line ?? 0) - (b.e.where.line ?? 0) || a.i - b.i)
    .map((x) => x.e);
}

function lineAt(lookup: LineLookup, path: PathSegment[]): { line?: number } {
  const line = lookup(path);
  return line === undefined ? {} : { line };
}
