/**
 * What the control socket answers: xl's commands, each a thin call into the toolstack (domain
 * operations, as Dom0 jobs) or a view of the host (text in xl's layouts).
 */
import { resolve } from 'node:path';
import { parseDomainXl } from '../../config/domain.js';
import { loadDomainFile } from '../../config/load.js';
import { ConfigError } from '../../api/errors.js';
import { Consoles } from '../../api/console.js';
import type { Toolstack, ShutdownRequest } from '../../api/toolstack.js';
import type { Host } from '../../host/host.js';
import { readFileSync } from 'node:fs';
import { xentopSample, xlBlockListView, xlDmesgView, xlDomidView, xlDomnameView, xlListLongView, xlListView, xlNetworkListView, xlSchedCreditView, xlUptimeView, xlVcpuListView } from '../views/index.js';
import { parseDiskSpec } from '../../config/diskspec.js';
import { parseVifSpec } from '../../config/vifspec.js';
import { renderHostInfo } from '../commands/info.js';
import { ControlFailure } from './protocol.js';
import type { ControlMethod } from './server.js';

function toolstackOf(host: Host): Toolstack {
  const t = host.toolstack;
  if (t === undefined) throw new ControlFailure('ENOSYS', 'this host runs no toolstack plugin (enable `toolstack` in its definition)');
  return t;
}

function str(params: Record<string, unknown>, key: string): string {
  const v = params[key];
  if (typeof v !== 'string' || v === '') throw new ControlFailure('usage', `missing ${key}`);
  return v;
}

function names(params: Record<string, unknown>): string[] {
  return Array.isArray(params.domains) ? params.domains.filter((d): d is string => typeof d === 'string') : [];
}

function num(params: Record<string, unknown>, key: string): number {
  const v = params[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ControlFailure('usage', `missing ${key}`);
  return v;
}

/** A domain as xl's commands name one: its name or its id. Dom0 counts. */
export function domidOf(host: Host, ref: string): number {
  const byName = host.domains.list().find((d) => d.name === ref && d.state !== 'dead');
  if (byName) return byName.domid;
  if (/^\d+$/.test(ref) && host.domains.get(Number(ref))) return Number(ref);
  throw new ControlFailure('ESRCH', `${ref} is an invalid domain identifier`);
}

/** Loads a guest file the way `xl create` does, with `key=value` overrides appended (xl.cfg files only). */
function loadGuest(file: string, overrides: readonly string[]) {
  let result;
  if (overrides.length > 0 && !/\.(ya?ml|json)$/i.test(file)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new ConfigError(`cannot read guest file ${file}: no such file`);
    }
    result = parseDomainXl(`${text}\n${overrides.join('\n')}\n`, file);
  } else result = loadDomainFile(file);
  if (result.errors.length > 0 || result.domain === undefined) throw new ConfigError(result.errors.map((e) => e.message).join('; '));
  return { domain: result.domain, warnings: result.warnings.map((w) => w.message) };
}

const SHUTDOWN_REQUESTS: readonly ShutdownRequest[] = ['poweroff', 'reboot', 'halt', 'suspend', 'crash'];

export const CONTROL_METHODS: Readonly<Record<string, ControlMethod>> = {
  /** The host's name, virtual time, run dir: what `xeno` prints when it attaches. */
  hello: (_p, host) => ({ host: host.definition.name, now: host.engine.now, domains: host.domains.size }),
  // Views: snapshots the CLI renders in xl's layouts (core/cli/views).
  list: (p, host) => xlListView(host, names(p)),
  'list-long': (p, host) => xlListLongView(host, names(p)),
  'vcpu-list': (p, host) => xlVcpuListView(host, names(p)),
  uptime: (p, host) => xlUptimeView(host, names(p)),
  dmesg: (_p, host) => xlDmesgView(host),
  'sched-credit': (p, host) => xlSchedCreditView(host, typeof p.domain === 'string' ? { domain: p.domain } : {}),
  'top-sample': (_p, host) => xentopSample(host),
  info: (_p, host) => ({ text: renderHostInfo(host) }),
  domid: (p, host) => xlDomidView(host, str(p, 'domain')),
  domname: (p, host) => xlDomnameView(host, str(p, 'domid')),
  create: (p, host) => {
    const file = resolve(str(p, 'cwd'), str(p, 'file'));
    const overrides = Array.isArray(p.overrides) ? (p.overrides as string[]) : [];
    const { domain, warnings } = loadGuest(file, overrides);
    const job = toolstackOf(host).create(domain, { paused: p.paused === true });
    return {
      onSettled: (fn: (j: unknown) => void) =>
        job.onSettled((j) => fn({ error: j.error, result: j.result ? { domid: j.result.domid, name: j.result.name, warnings: [...warnings, ...j.result.warnings] } : undefined })),
    };
  },
  destroy: (p, host) => toolstackOf(host).destroy(domidOf(host, str(p, 'domain'))),
  shutdown: (p, host) => {
    const request = (p.request ?? 'poweroff') as ShutdownRequest;
    if (!SHUTDOWN_REQUESTS.includes(request)) throw new ControlFailure('usage', `unknown shutdown request "${String(request)}"`);
    return toolstackOf(host).shutdown(domidOf(host, str(p, 'domain')), request, { force: p.force === true });
  },
  pause: (p, host) => toolstackOf(host).pause(domidOf(host, str(p, 'domain'))),
  unpause: (p, host) => toolstackOf(host).unpause(domidOf(host, str(p, 'domain'))),
  'mem-set': (p, host) => toolstackOf(host).memSet(domidOf(host, str(p, 'domain')), num(p, 'kib')),
  'mem-max': (p, host) => toolstackOf(host).memMax(domidOf(host, str(p, 'domain')), num(p, 'kib')),
  'vcpu-set': (p, host) => toolstackOf(host).vcpuSet(domidOf(host, str(p, 'domain')), num(p, 'count')),
  'vcpu-pin': (p, host) => {
    const vcpu = p.vcpu === 'all' ? 'all' : num(p, 'vcpu');
    return toolstackOf(host).vcpuPin(domidOf(host, str(p, 'domain')), vcpu, str(p, 'cpus'));
  },
  rename: (p, host) => toolstackOf(host).rename(domidOf(host, str(p, 'domain')), str(p, 'name')),
  /** xl dump-core: the file is relative to the client's folder. */
  'dump-core': (p, host) => toolstackOf(host).dumpCore(domidOf(host, str(p, 'domain')), resolve(str(p, 'cwd'), str(p, 'file'))),
  /** xl block-attach: the disk spec's parts joined with commas, as xl joins its arguments; the image relative to the client's folder. */
  'block-attach': (p, host) => {
    const parsed = parseDiskSpec(str(p, 'spec'));
    if (parsed.errors.length > 0 || parsed.value === undefined) throw new ControlFailure('EINVAL', `block-attach: ${parsed.errors.join('; ')}`);
    return toolstackOf(host).blockAttach(domidOf(host, str(p, 'domain')), parsed.value, str(p, 'cwd'));
  },
  'block-detach': (p, host) => toolstackOf(host).blockDetach(domidOf(host, str(p, 'domain')), str(p, 'dev')),
  'block-list': (p, host) => xlBlockListView(host, names(p)),
  'network-attach': (p, host) => {
    const parsed = parseVifSpec(str(p, 'spec'));
    if (parsed.errors.length > 0 || parsed.value === undefined) throw new ControlFailure('EINVAL', `network-attach: ${parsed.errors.join('; ')}`);
    return toolstackOf(host).networkAttach(domidOf(host, str(p, 'domain')), parsed.value);
  },
  'network-detach': (p, host) => toolstackOf(host).networkDetach(domidOf(host, str(p, 'domain')), str(p, 'dev')),
  'network-list': (p, host) => xlNetworkListView(host, names(p)),
  /** Where a domain's console socket is, for `xeno console`. */
  console: (p, host) => {
    const domid = domidOf(host, str(p, 'domain'));
    const record = toolstackOf(host).get(domid);
    if (!record) throw new ControlFailure('ENOENT', `domain ${domid} has no console the toolstack set up`);
    // xenconsoled knows which console wins (an HVM guest's serial port, as xl console's default).
    const path = host.plugins.resolveAll(Consoles)[0]?.socketPath(domid) ?? `${host.runDir}/console/${domid}.sock`;
    return { domid, path };
  },
  /** Domains alive (for `shutdown -a` and `-w`). */
  domains: (_p, host) => host.domains.list().map((d) => ({ domid: d.domid, name: d.name, state: d.state })),
};
