/**
 * Kernel configuration files in FreeBSD's own syntax (config(8), sys/amd64/conf/GENERIC): `cpu`,
 * `ident`, `machine`, `options`/`nooptions`, `device`/`nodevice`, `makeoptions`, `include`, `#` comments.
 * A kernel built from a file has exactly the options and devices it names: a missing `device balloon`
 * means no balloon driver attaches, no `sysctl hw.balloon` and nothing in `devinfo`.
 */

/** One parsed kernel configuration. */
export interface KernelConfig {
  /** The file it came from (as given to the parser). */
  readonly file: string;
  /** `ident GENERIC`; the guest kernel's name is this, lower-cased. */
  readonly ident: string;
  readonly machine: string;
  readonly cpus: readonly string[];
  /** `options NAME` → true, `options NAME=value` → "value". */
  readonly options: ReadonlyMap<string, string | true>;
  readonly devices: ReadonlySet<string>;
}

/**
 * Options this kernel knows (sys/conf/options*). SMP: start the APs; XENHVM: the Xen PV interfaces
 * (xenpv bus, console, xenstore, control); NO_ADAPTIVE_MUTEXES: contended mutexes sleep at once;
 * HZ: the default `kern.hz`; MAXCPU: the most CPUs SMP brings up. The others are accepted for
 * GENERIC's sake and change nothing here.
 */
export const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'SMP', 'XENHVM', 'NO_ADAPTIVE_MUTEXES', 'NO_ADAPTIVE_RWLOCKS', 'NO_ADAPTIVE_SX', 'HZ', 'MAXCPU',
  'SCHED_ULE', 'PREEMPTION', 'INET', 'INET6', 'FFS', 'COMPAT_FREEBSD11', 'KTRACE', 'INVARIANTS', 'EARLY_AP_STARTUP',
]);

/**
 * Devices this kernel has drivers for (or that the native/HVM side declares), from sys/conf/files*.
 * Another driver adds its name with {@link registerKnownDevice} when its module loads.
 */
const knownDevices = new Set(['xenpci', 'xentimer', 'balloon', 'evtchn', 'xbd', 'xn', 'ata', 'rl', 'loop', 'ether']);

/** Declares a driver name `device` lines may use (the native/HVM drivers do so for theirs). */
export function registerKnownDevice(name: string): void {
  knownDevices.add(name);
}

/** A configuration error: `file:line: message`. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
    this.name = 'ConfigError';
  }
}

/** Reads an included file by name (relative to the including file's folder); undefined when it does not exist. */
export type IncludeReader = (name: string) => { file: string; text: string } | undefined;

interface Draft {
  ident?: string;
  machine?: string;
  cpus: string[];
  options: Map<string, string | true>;
  devices: Set<string>;
}

/** Options that carry a number. */
const NUMERIC_OPTIONS: ReadonlySet<string> = new Set(['HZ', 'MAXCPU']);

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Splits `a, b,c` (config(8) lists) into names. */
function list(words: string[]): string[] {
  return words.join(' ').split(',').map((w) => w.trim()).filter((w) => w !== '');
}

function parseInto(d: Draft, file: string, text: string, include: IncludeReader, depth: number): void {
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const fail = (detail: string): never => {
      throw new ConfigError(file, line, detail);
    };
    const body = raw.replace(/#.*$/, '').trim();
    if (body === '') return;
    const [keyword, ...words] = body.split(/\s+/);
    const args = list(words);
    switch (keyword) {
      case 'ident':
      case 'machine':
        if (args.length !== 1) fail(`"${keyword}" takes one name`);
        if (keyword === 'ident') d.ident = args[0]!.replace(/^"|"$/g, '');
        else d.machine = args[0]!;
        return;
      case 'cpu':
        if (args.length !== 1) fail('"cpu" takes one name (HAMMER)');
        d.cpus.push(args[0]!);
        return;
      case 'makeoptions':
        return;
      case 'options':
      case 'nooptions':
        if (args.length === 0) fail(`"${keyword}" needs an option name`);
        for (const a of args) {
          const [name, value] = a.split('=', 2) as [string, string | undefined];
          if (!NAME.test(name)) fail(`bad option name "${name}"`);
          if (!KNOWN_OPTIONS.has(name)) fail(`unknown option "${name}" (known: ${[...KNOWN_OPTIONS].join(', ')})`);
          if (NUMERIC_OPTIONS.has(name) && keyword === 'options' && !(value !== undefined && /^\d+$/.test(value) && Number(value) >= 1)) fail(`options ${name} needs a whole number ≥ 1 (${name}=100)`);
          if (keyword === 'nooptions') d.options.delete(name);
          else d.options.set(name, value === undefined ? true : value.replace(/^"|"$/g, ''));
        }
        return;
      case 'device':
      case 'nodevice':
        if (args.length === 0) fail(`"${keyword}" needs a device name`);
        for (const a of args) {
          if (!knownDevices.has(a)) fail(`unknown device "${a}" (known: ${[...knownDevices].sort().join(', ')})`);
          if (keyword === 'nodevice') d.devices.delete(a);
          else d.devices.add(a);
        }
        return;
      case 'include': {
        if (args.length !== 1) fail('"include" takes one file name');
        if (depth >= 8) fail('includes nest too deeply');
        const inc = include(args[0]!);
        if (inc === undefined) fail(`cannot include "${args[0]}": no such file`);
        parseInto(d, inc!.file, inc!.text, include, depth + 1);
        return;
      }
      default:
        fail(`unknown keyword "${keyword}"`);
    }
  });
}

/** Parses one configuration file; throws a {@link ConfigError} naming file:line. */
export function parseKernelConfig(file: string, text: string, include: IncludeReader = () => undefined): KernelConfig {
  const d: Draft = { cpus: [], options: new Map(), devices: new Set() };
  parseInto(d, file, text, include, 0);
  const lines = text.split(/\r?\n/).length;
  if (d.ident === undefined) throw new ConfigError(file, lines, 'no "ident" line');
  if (d.cpus.length === 0) throw new ConfigError(file, lines, 'no "cpu" line (cpu HAMMER)');
  if (d.machine !== undefined && d.machine !== 'amd64') throw new ConfigError(file, lines, `machine "${d.machine}" is not amd64`);
  return { file, ident: d.ident, machine: d.machine ?? 'amd64', cpus: d.cpus, options: d.options, devices: d.devices };
}

/** True when the kernel was built with `options name`. */
export function hasOption(c: KernelConfig, name: string): boolean {
  return c.options.has(name);
}

/** A numeric option's value, or `fallback`. */
export function optionNumber(c: KernelConfig, name: string, fallback: number): number {
  const v = c.options.get(name);
  return typeof v === 'string' ? Number(v) : fallback;
}
