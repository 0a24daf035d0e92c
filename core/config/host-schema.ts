/** The host definition's schema (TypeBox, strict): every key, its type, default and description. The JSON Schema and the config reference are generated from it. */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { DEFAULT_COST_MODEL } from '../engine/cost-model.js';
import { DURATION_EXPECTED, DURATION_PATTERN, SIZE_EXPECTED, SIZE_PATTERN } from './units.js';
import { XL_KEYS, type XlKey } from './xl-keys.js';

const strict = { additionalProperties: false } as const;

/** A size: `16GiB`, `512M`, or a number of MiB. */
export const SizeSchema = (description: string, extra: Record<string, unknown> = {}): TSchema =>
  Type.Union([Type.String({ pattern: SIZE_PATTERN }), Type.Number({ minimum: 0 })], { description, expected: SIZE_EXPECTED, ...extra });

/** A duration with a unit: `500ms`, `2s`, `1m`. */
export const DurationSchema = (description: string): TSchema => Type.String({ pattern: DURATION_PATTERN, description, expected: DURATION_EXPECTED });

const PLUGIN_NAME_PATTERN = '^[a-z][a-z0-9]*(-[a-z0-9]+)*$';
const PLUGIN_NAME_EXPECTED = 'a plugin name (lower-case words joined by dashes)';

const COST_DESCRIPTIONS: Readonly<Record<string, string>> = {
  cpuMhz: 'Core clock of every physical CPU in MHz (the same as cpus.mhz).',
  vmExit: 'Cycles for a hardware VM exit and re-entry.',
  hypercall: 'Cycles for a hypercall\'s entry and exit.',
  trapEmulate: 'Cycles for a PV privileged instruction trapped and emulated.',
  tlbHit: 'Cycles for a TLB hit.',
  tlbMiss: 'Fixed cycles of a TLB miss before the walk.',
  pageWalkRef: 'Cycles per memory reference of a page walk.',
  ipiNative: 'Cycles for a native IPI.',
  ipiVirtual: 'Cycles for a virtual IPI between vCPUs.',
  interruptInject: 'Cycles to inject an interrupt into a running vCPU.',
  contextSwitch: 'Cycles for a vCPU context switch.',
  copyPerByte: 'Cycles per byte of a hypervisor memory copy.',
  emulatedIo: 'Cycles for an emulated I/O round trip through a device model.',
  memoryAccess: 'Cycles for a guest memory access that hits.',
};

/** Cost-model overrides: one optional key per entry of the engine's cost model, so an unknown name is an unknown key. */
export const CostSchema: TSchema = Type.Object(
  Object.fromEntries(
    Object.keys(DEFAULT_COST_MODEL).map((k) => [
      k,
      Type.Optional(Type.Number({ minimum: 0, description: `${COST_DESCRIPTIONS[k] ?? `Cost "${k}" in cycles.`} Default ${String(DEFAULT_COST_MODEL[k as keyof typeof DEFAULT_COST_MODEL])}.` })),
    ]),
  ),
  { ...strict, description: 'Cost-model overrides, in cycles (names from core/engine/cost-model.ts).' },
);

/** A plugin entry: a plugin of this tree by name, or an npm package, with options checked against the plugin's configSchema. */
export const PluginEntrySchema = (options: TSchema = Type.Object({}, { additionalProperties: true })): TSchema =>
  Type.Union(
    [
      Type.String({ pattern: PLUGIN_NAME_PATTERN, expected: PLUGIN_NAME_EXPECTED, description: 'A plugin of this tree, by name, with default options.' }),
      Type.Object({ name: Type.String({ pattern: PLUGIN_NAME_PATTERN, expected: PLUGIN_NAME_EXPECTED, description: 'The plugin\'s name.' }), options: Type.Optional({ ...options, description: 'The plugin\'s options, checked against its configSchema.' }) }, { ...strict, description: 'A plugin of this tree with options.' }),
      Type.Object({ package: Type.String({ minLength: 1, description: 'An npm package that exports a plugin manifest.' }), options: Type.Optional({ ...options, description: 'The plugin\'s options, checked against its configSchema.' }) }, { ...strict, description: 'A plugin from an npm package.' }),
    ],
    { description: 'A plugin: its name, { name, options } or { package, options }.' },
  );

/** Physical PCI device kinds on the simulated host. */
export const DEVICE_KINDS = ['nic', 'storage', 'display', 'usb', 'other'] as const;

const DeviceSchema = Type.Object(
  {
    bdf: Type.String({ pattern: '^([0-9A-Fa-f]{1,4}:)?[0-9A-Fa-f]{1,2}:[0-9A-Fa-f]{1,2}\\.[0-7]$', expected: 'a PCI address like 00:19.0', description: 'PCI address [DDDD:]BB:DD.F.' }),
    kind: Type.Union(DEVICE_KINDS.map((k) => Type.Literal(k)), { description: 'What the device is.' }),
    model: Type.String({ minLength: 1, description: 'Device model plugin that emulates it, e.g. e1000.' }),
    options: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'Options for the device model.' })),
  },
  { ...strict, description: 'A physical device on the host\'s PCI bus.' },
);

function xlKeySchema(k: XlKey): TSchema {
  const d = { description: `${k.description}${k.status === 'unsupported' ? ' (not supported yet: ignored with a warning)' : ''}` };
  const int = Type.Integer();
  switch (k.kind) {
    case 'string':
      return Type.String(d);
    case 'number':
      return Type.Union([int, Type.String({ pattern: '^(0[xX][0-9a-fA-F]+|\\d+)$' })], d);
    case 'boolean':
      return Type.Union([Type.Boolean(), Type.Literal(0), Type.Literal(1)], d);
    case 'size':
      return SizeSchema(d.description);
    case 'list':
      return Type.Array(Type.String(), d);
    case 'string-or-list':
      return Type.Union([Type.String(), Type.Array(Type.String())], d);
    case 'number-or-list':
      return Type.Union([int, Type.Array(int)], d);
    case 'any':
      return Type.Unknown(d);
  }
}

/** A guest written in YAML: a map with xl.cfg's own keys, validated exactly as an xl.cfg file. */
export const DomainYamlSchema: TSchema = Type.Object(
  Object.fromEntries(XL_KEYS.map((k) => [k.key, k.key === 'name' ? xlKeySchema(k) : Type.Optional(xlKeySchema(k))])),
  { ...strict, description: 'A guest defined inline with xl.cfg keys.' },
);

/** Builds the host schema. `domainEntry` and `pluginOptions` vary: loose for validation (guests are checked by the xl.cfg interpreter), precise for editors. */
export function makeHostSchema(parts: { domainEntry?: TSchema; pluginEntry?: TSchema } = {}) {
  return Type.Object(
    {
      name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', expected: 'a host name of letters, digits, ".", "_" and "-"', description: 'Host name; the run directory is ./run/<name>.' }),
      seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0, description: 'Seed of every random choice in the simulation. Default 0.' })),
      cpus: Type.Optional(
        Type.Union(
          [
            Type.Integer({ minimum: 1, maximum: 256, description: 'Number of physical CPUs.' }),
            Type.Object(
              {
                count: Type.Integer({ minimum: 1, maximum: 256, description: 'Number of physical CPUs.' }),
                mhz: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: `Core clock in MHz. Default ${DEFAULT_COST_MODEL.cpuMhz}.` })),
              },
              { ...strict, description: 'Physical CPUs with their clock.' },
            ),
          ],
          { default: 1, expected: 'a CPU count or { count, mhz }', description: 'Physical CPUs: a count, or { count, mhz }. Default 1.' },
        ),
      ),
      memory: Type.Optional(SizeSchema('Host (machine) memory: a size like 16GiB, or a number of MiB. Default 4GiB.', { default: '4GiB' })),
      scheduler: Type.Optional(Type.String({ pattern: PLUGIN_NAME_PATTERN, expected: 'a scheduler name such as credit or credit2', default: 'credit', description: 'The vCPU scheduler, like Xen\'s sched= (credit, credit2, rtds, null…). Default credit.' })),
      paging: Type.Optional(Type.Union([Type.Literal('hap'), Type.Literal('shadow')], { default: 'hap', description: 'Default paging mode of HVM and PVH guests: hap (second-stage tables) or shadow. Default hap.' })),
      cost: Type.Optional(CostSchema),
      pacing: Type.Optional(Type.Union([Type.Literal('afap'), Type.Literal('realtime')], { default: 'afap', description: 'afap runs as fast as possible; realtime keeps virtual time with the wall clock. Default afap.' })),
      features: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Z][A-Z0-9_]*$', expected: 'a feature name in capitals such as HAP' }), { uniqueItems: true, description: 'Features the host asks for, checked against the build (e.g. HAP, SCHED_CREDIT).' })),
      build: Type.Optional(Type.String({ minLength: 1, description: 'The build profile this definition expects (config/builds/<name>).' })),
      dom0: Type.Optional(
        Type.Object(
          {
            memory: Type.Optional(SizeSchema('Dom0 memory. Default 512MiB.', { default: '512MiB' })),
            vcpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 1, description: 'Dom0 vCPUs. Default 1.' })),
          },
          { ...strict, description: 'Domain 0: the privileged domain that runs the services.' },
        ),
      ),
      plugins: Type.Optional(Type.Array(parts.pluginEntry ?? PluginEntrySchema(), { description: 'Plugins to enable, by tree name or npm package, with options.' })),
      devices: Type.Optional(Type.Array(DeviceSchema, { description: 'Physical devices on the host\'s PCI bus.' })),
      domains: Type.Optional(
        Type.Array(
          parts.domainEntry ??
            Type.Union([Type.String({ minLength: 1, description: 'Path of an xl.cfg or YAML guest file, relative to this file.' }), DomainYamlSchema], {
              description: 'A guest: a file path, or an inline definition with xl.cfg keys.',
            }),
          { description: 'Guests to start with the host, in order.' },
        ),
      ),
      run: Type.Optional(
        Type.Object(
          { duration: Type.Optional(DurationSchema('How much virtual time `xeno run` simulates, like 500ms, 2s or 1m. Default: until stopped.')) },
          { ...strict, description: 'How `xeno run` runs this host.' },
        ),
      ),
    },
    { ...strict, description: 'A xenoserver host definition.' },
  );
}

/** The host definition schema as editors and the config reference see it. */
export const HostDefinitionSchema = makeHostSchema();

/** A host definition as written (before defaults and normalization). */
export type HostDefinition = Static<typeof HostDefinitionSchema>;
