/**
 * Every view of one deterministic host, rendered and compared byte for byte with its golden file (checked
 * line by line against the printf formats of tools/xl and tools/xentop). A moved column fails here.
 * Regenerate only after checking the new output by hand: UPDATE_GOLDEN=1 npx vitest run <this file>.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHostInfo } from '../../../../core/cli/commands/info.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Host } from '../../../../core/host/host.js';
import {
  XlError,
  renderXentopBatch,
  renderXlDmesg,
  renderXlDomid,
  renderXlDomname,
  renderXlList,
  renderXlListLong,
  renderXlSchedCredit,
  renderXlUptime,
  renderXlVcpuList,
  xentopSample,
  xlDmesgView,
  xlDomidView,
  xlDomnameView,
  xlListLongView,
  xlListView,
  xlSchedCreditView,
  xlUptimeView,
  xlVcpuListView,
  type XentopSample,
} from '../../../../core/cli/views/index.js';
import { bootViewsHost } from './views-host.js';

const GOLDEN = join(import.meta.dirname, 'golden');

function matchesGolden(name: string, text: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
  expect(existsSync(file), `golden file ${name} is missing`).toBe(true);
  expect(text).toBe(readFileSync(file, 'utf8'));
}

/** Snapshots go over the control socket as JSON: a view must render the same after the round trip. */
function viaJson<T>(snapshot: T): T {
  return JSON.parse(JSON.stringify(snapshot)) as T;
}

let host: Host;
let dispose: () => Promise<void>;
let samples: XentopSample[] = [];
const at5s: Record<string, string> = {};

beforeAll(async () => {
  ({ host, dispose } = await bootViewsHost());
  host.runFor(5e9 - host.engine.now);
  at5s.list = renderXlList(viaJson(xlListView(host)));
  at5s.listLong = renderXlListLong(viaJson(xlListLongView(host)));
  at5s.vcpuList = renderXlVcpuList(viaJson(xlVcpuListView(host)));
  at5s.uptime = renderXlUptime(viaJson(xlUptimeView(host)));
  at5s.schedCredit = renderXlSchedCredit(viaJson(xlSchedCreditView(host)));
  at5s.dmesg = renderXlDmesg(viaJson(xlDmesgView(host)));
  at5s.info = renderHostInfo(host);
  // xentop -b -i 2 (default delay 3 s): a sample, 3 s of virtual time, a sample.
  samples = [viaJson(xentopSample(host))];
  host.runFor(3e9);
  samples.push(viaJson(xentopSample(host)));
});

afterAll(async () => {
  await dispose();
});

describe('views of the golden host at 5 s of virtual time', () => {
  it('xl list', () => matchesGolden('xl-list.txt', at5s.list!));
  it('xl list -l', () => matchesGolden('xl-list-l.txt', at5s.listLong!));
  it('xl vcpu-list', () => matchesGolden('xl-vcpu-list.txt', at5s.vcpuList!));
  it('xl uptime', () => matchesGolden('xl-uptime.txt', at5s.uptime!));
  it('xl sched-credit', () => matchesGolden('xl-sched-credit.txt', at5s.schedCredit!));
  it('xl dmesg', () => matchesGolden('xl-dmesg.txt', at5s.dmesg!));
  it('xl info', () => matchesGolden('xl-info.txt', at5s.info!));
  it('xentop -b -i 2', () => matchesGolden('xentop-b-i2.txt', renderXentopBatch(samples)));
});

describe('views that name domains', () => {
  it('xl list NAME and ID show only those, in the order given', () => {
    const text = renderXlList(xlListView(host, ['db', '1']));
    expect(text.split('\n').map((l) => l.split(' ')[0])).toEqual(['Name', 'db', 'web', '']);
  });

  it("xl list of an unknown name is find_domain's error, of an unknown id libxl's", () => {
    expect(() => xlListView(host, ['nosuch'])).toThrow(new XlError('nosuch is an invalid domain identifier (rc=-6)'));
    expect(() => xlListView(host, ['42'])).toThrow(new XlError("Error: Domain '42' does not exist."));
  });

  it('xl list -l NAME gives one entry', () => {
    expect(xlListLongView(host, ['crashy']).domains.map((d) => d.domid)).toEqual([4]);
  });

  it('xl vcpu-list NAME lists that domain only', () => {
    const rows = xlVcpuListView(host, ['db']).vcpus;
    expect(rows.map((r) => [r.domid, r.vcpu, r.online])).toEqual([
      [2, 0, true],
      [2, 1, false],
    ]);
  });

  it('xl uptime NAME, and Dom0 by id', () => {
    expect(renderXlUptime(xlUptimeView(host, ['0', 'idle']))).toBe('Name                                ID Uptime\nDomain-0                             0  0:00:08\nidle                                 5  0:00:07\n');
  });

  it('xl sched-credit -d NAME: the header and that row, no pool line', () => {
    expect(renderXlSchedCredit(xlSchedCreditView(host, { domain: 'db' }))).toBe('Name                                ID Weight  Cap\ndb                                   2    512   50\n');
  });

  it('xl domid NAME and xl domname ID', () => {
    expect(renderXlDomid(xlDomidView(host, 'web'))).toBe('1\n');
    expect(renderXlDomname(xlDomnameView(host, '2'))).toBe('db\n');
    expect(renderXlDomname(xlDomnameView(host, '0'))).toBe('Domain-0\n');
    expect(() => xlDomidView(host, 'nosuch')).toThrow("Can't get domid of domain name 'nosuch', maybe this domain does not exist.");
    expect(() => xlDomnameView(host, '9')).toThrow("Can't get domain name of domain id '9', maybe this domain does not exist.");
    expect(() => xlDomnameView(host, 'web')).toThrow('Invalid domain id.\n');
  });
});
