/**
 * A scenario: a machine and a timeline of actions that `xeno run <scenario>` carries out as fast as
 * possible, writing a report. Every step names one action; waits and timeouts are virtual time.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DURATION_EXPECTED, DURATION_PATTERN } from '../../config/units.js';

const Duration = Type.String({ pattern: DURATION_PATTERN, expected: DURATION_EXPECTED, description: 'Virtual time, e.g. 500ms, 2s.' });
const DomainRef = Type.String({ minLength: 1, description: 'A domain name (or id).' });
const step = <T extends Record<string, import('@sinclair/typebox').TSchema>>(props: T, description: string) =>
  Type.Object({ ...props, timeout: Type.Optional(Duration) }, { additionalProperties: false, description });

export const ScenarioStep = Type.Union([
  step({ create: Type.Union([Type.String({ minLength: 1 }), Type.Object({ file: Type.String({ minLength: 1 }), overrides: Type.Optional(Type.Array(Type.String())), paused: Type.Optional(Type.Boolean()) }, { additionalProperties: false })]) }, 'Create a domain from a guest file (path relative to the scenario); waits until it is built.'),
  step({ wait: Type.Object({ domain: DomainRef, state: Type.Optional(Type.Union([Type.Literal('running'), Type.Literal('blocked'), Type.Literal('paused'), Type.Literal('shutdown'), Type.Literal('gone')])), console: Type.Optional(Type.String({ minLength: 1, description: 'Wait for console output containing this text.' })) }, { additionalProperties: false }) }, 'Wait until a domain reaches a state or prints a console line.'),
  step({ run: Duration }, 'Let the host run for this long.'),
  step({ input: Type.Object({ domain: DomainRef, text: Type.String() }, { additionalProperties: false }) }, 'Type text on a domain console (\\n for Enter).'),
  step({ shutdown: Type.Union([DomainRef, Type.Object({ domain: DomainRef, request: Type.Optional(Type.Union(['poweroff', 'reboot', 'halt', 'suspend', 'crash'].map((r) => Type.Literal(r)))), wait: Type.Optional(Type.Boolean()), force: Type.Optional(Type.Boolean({ description: 'xl -F: a guest without PV control gets the ACPI power button (shutdown) or a reset (reboot).' })) }, { additionalProperties: false })]) }, 'Ask a domain to shut down (control/shutdown); with wait, until it is gone.'),
  step({ reboot: Type.Union([DomainRef, Type.Object({ domain: DomainRef, wait: Type.Optional(Type.Boolean({ description: 'Wait until the domain was built again (a new domid).' })), force: Type.Optional(Type.Boolean({ description: 'xl -F: a guest without PV control gets the ACPI power button (shutdown) or a reset (reboot).' })) }, { additionalProperties: false })]) }, 'Ask a domain to reboot.'),
  step({ destroy: DomainRef }, 'Destroy a domain.'),
  step({ pause: DomainRef }, 'Pause a domain.'),
  step({ unpause: DomainRef }, 'Unpause a domain.'),
  step({ 'mem-set': Type.Object({ domain: DomainRef, memory: Type.String({ minLength: 1, description: 'xl size: 256m, 1g; bare numbers are MiB.' }) }, { additionalProperties: false }) }, 'Set the balloon target.'),
  step({ 'vcpu-set': Type.Object({ domain: DomainRef, vcpus: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }) }, 'Set the online vCPUs.'),
  step({ rename: Type.Object({ domain: DomainRef, name: Type.String({ minLength: 1 }) }, { additionalProperties: false }) }, 'Rename a domain.'),
]);
export type ScenarioStep = Static<typeof ScenarioStep>;

export const ScenarioFile = Type.Object(
  {
    scenario: Type.String({ minLength: 1, description: 'The scenario’s name (reports carry it).' }),
    description: Type.Optional(Type.String()),
    machine: Type.String({ minLength: 1, description: 'The machine definition, relative to this file.' }),
    seed: Type.Optional(Type.Integer({ minimum: 0, description: 'Overrides the machine’s seed.' })),
    timeline: Type.Array(ScenarioStep, { minItems: 1 }),
    report: Type.Optional(Type.Object({ dir: Type.String({ minLength: 1, description: 'Where report.json and report.md go, relative to the working directory (default: the run directory).' }) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type ScenarioFile = Static<typeof ScenarioFile>;
