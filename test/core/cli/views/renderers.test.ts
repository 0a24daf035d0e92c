/** The renderers on hand-made snapshots: xl's and xentop's printf layouts at their edges. */
import { describe, expect, it } from 'vitest';
import {
  printBitmap,
  renderXentopBatch,
  renderXentopFrame,
  renderXlDmesg,
  renderXlDomid,
  renderXlDomname,
  renderXlList,
  renderXlListLong,
  renderXlSchedCredit,
  renderXlUptime,
  renderXlVcpuList,
  uptimeSeconds,
  uptimeToString,
  xentopState,
  xlStateLetters,
  yajlBeautify,
  XL_LIST_HEADER,
  XL_VCPU_LIST_HEADER,
  type DomainFlags,
  type XentopDomain,
  type XentopSample,
  type XlListRow,
  type XlVcpuRow,
} from '../../../../core/cli/views/index.js';

const NONE: DomainFlags = { running: false, blocked: false, paused: false, shutdown: false, shutdownReason: 0, dying: false };
const running = { ...NONE, running: true };
const blocked = { ...NONE, blocked: true };
const paused = { ...NONE, paused: true };
const shutdown = (reason: number): DomainFlags => ({ ...NONE, shutdown: true, shutdownReason: reason });
const dying = { ...NONE, dying: true };

function listRow(extra: Partial<XlListRow> = {}): XlListRow {
  return { name: 'web', domid: 7, memKiB: 512 * 1024, vcpusOnline: 2, flags: blocked, cpuTimeNs: 5e9, ...extra };
}

describe('xl list', () => {
  it('prints the state letters r b p s <reason> d, each in its own column', () => {
    expect(xlStateLetters(running)).toBe('r-----');
    expect(xlStateLetters(blocked)).toBe('-b----');
    expect(xlStateLetters(paused)).toBe('--p---');
    expect(xlStateLetters(shutdown(0))).toBe('---s--');
    expect(xlStateLetters(shutdown(1))).toBe('---sr-');
    expect(xlStateLetters(shutdown(2))).toBe('---ss-');
    expect(xlStateLetters(shutdown(3))).toBe('---sc-');
    expect(xlStateLetters(shutdown(4))).toBe('---sw-');
    expect(xlStateLetters(shutdown(5))).toBe('---sS-');
    expect(xlStateLetters(shutdown(9))).toBe('---s?-');
    expect(xlStateLetters(dying)).toBe('-----d');
    expect(xlStateLetters({ ...shutdown(3), dying: true })).toBe('---scd');
    // the reason is printed only while shut down
    expect(xlStateLetters({ ...NONE, shutdownReason: 3 })).toBe('------');
  });

  it("lays out %-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f under xl's header", () => {
    expect(renderXlList({ domains: [listRow()] })).toBe(
      'Name                                        ID   Mem VCPUs\tState\tTime(s)\n' + 'web                                          7   512     2     -b----       5.0\n',
    );
    expect(XL_LIST_HEADER.indexOf('ID')).toBe(44);
  });

  it('lets a long name or a wide number push the row right, as printf does (no truncation)', () => {
    const name = 'n'.repeat(45);
    const text = renderXlList({ domains: [listRow({ name, domid: 123456, memKiB: 200000 * 1024, cpuTimeNs: 123456789e9 })] });
    expect(text.split('\n')[1]).toBe(`${name} 123456 200000     2     -b----  123456790.5`);
    // %8.1f of (float)ns / 1e9: 123456789 s has no exact C float, the nearest is 123456790.5 s
  });

  it('rounds CPU seconds as %.1f of a C float', () => {
    const row = (ns: number) => renderXlList({ domains: [listRow({ cpuTimeNs: ns })] }).split('\n')[1]!.slice(-8);
    expect(row(0)).toBe('     0.0');
    expect(row(149_999_999)).toBe('     0.1');
    expect(row(3_250_000_000)).toBe('     3.2');
    expect(row(16_777_217_000)).toBe('    16.8');
  });

  it('prints only the header when there are no domains', () => {
    expect(renderXlList({ domains: [] })).toBe(`${XL_LIST_HEADER}\n`);
  });
});

describe("xl's print_bitmap", () => {
  it('writes runs, all, none and single CPUs as xl does', () => {
    expect(printBitmap([], 4)).toBe('none');
    expect(printBitmap([0, 1, 2, 3], 4)).toBe('all');
    expect(printBitmap([0, 1, 2, 3, 6], 8)).toBe('0-3,6');
    expect(printBitmap([1, 2, 3, 4, 5, 6, 7], 8)).toBe('1-7');
    expect(printBitmap([0, 1, 3], 4)).toBe('0-1,3');
    expect(printBitmap([0, 2], 4)).toBe('0,2');
    expect(printBitmap([3], 4)).toBe('3');
    expect(printBitmap([0], 1)).toBe('all');
    // CPUs at or past maplen are not printed
    expect(printBitmap([2, 9], 4)).toBe('2');
  });
});

function vcpu(extra: Partial<XlVcpuRow> = {}): XlVcpuRow {
  return { name: 'web', domid: 1, vcpu: 0, online: true, cpu: 2, running: true, blocked: false, timeNs: 2.5e9, hardAffinity: [0, 1, 2, 3], softAffinity: [0, 1, 2, 3], ...extra };
}

describe('xl vcpu-list', () => {
  it("prints the header with %5s columns and rows whose CPU column sits one left of it, as xl's formats do", () => {
    expect(XL_VCPU_LIST_HEADER).toBe('Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)');
    const text = renderXlVcpuList({ nrCpus: 4, vcpus: [vcpu(), vcpu({ vcpu: 1, running: false, blocked: true, cpu: 0, hardAffinity: [2, 3] }), vcpu({ vcpu: 2, online: false, running: false, timeNs: 0 })] });
    expect(text.split('\n')).toEqual([
      XL_VCPU_LIST_HEADER,
      'web                                  1     0    2   r--       2.5  all / all',
      'web                                  1     1    0   -b-       2.5  2-3 / all',
      'web                                  1     2    -   --p       0.0  all / all',
      '',
    ]);
  });

  it('prints a paused vCPU (neither running nor blocked) as ---', () => {
    expect(renderXlVcpuList({ nrCpus: 2, vcpus: [vcpu({ running: false, hardAffinity: [0, 1], softAffinity: [0, 1] })] }).split('\n')[1]).toContain('   ---       2.5  all / all');
  });

  it('handles many vCPUs and wide ids, a long name and a 64-CPU affinity map', () => {
    const rows = Array.from({ length: 64 }, (_, i) => vcpu({ name: 'x'.repeat(40), domid: 32000, vcpu: i, cpu: 63 - i, hardAffinity: i % 2 ? [i] : [0, 1, 2, 3, 4, 5, 6, 7, 8, 63], softAffinity: Array.from({ length: 64 }, (_, c) => c) }));
    const lines = renderXlVcpuList({ nrCpus: 64, vcpus: rows }).split('\n');
    expect(lines).toHaveLength(66);
    expect(lines[1]).toBe(`${'x'.repeat(40)} 32000     0   63   r--       2.5  0-8,63 / all`);
    expect(lines[64]).toBe(`${'x'.repeat(40)} 32000    63    0   r--       2.5  63 / all`);
  });
});

describe('xl uptime', () => {
  it("formats uptime_to_string's long and short forms", () => {
    expect(uptimeToString(0)).toBe(' 0:00:00');
    expect(uptimeToString(86399)).toBe('23:59:59');
    expect(uptimeToString(86400)).toBe('1 day,  0:00:00');
    expect(uptimeToString(2 * 86400 + 3661)).toBe('2 days,  1:01:01');
    expect(uptimeToString(3661, true)).toBe(' 1:01');
    expect(uptimeToString(86400 + 36000, true)).toBe('1 day, 10:00');
  });

  it('counts whole seconds now minus whole seconds of the start, as xl with strtoul(start_time)', () => {
    expect(uptimeSeconds(5.2e9, 1.9e9)).toBe(4);
    expect(uptimeSeconds(5.2e9, 0)).toBe(5);
  });

  it('prints %-33s %4d %s rows under the header, and the -s form with the virtual time of day', () => {
    const s = { nowNs: 90061e9, domains: [{ name: 'Domain-0', domid: 0, startNs: 0 }, { name: 'a-name-longer-than-thirty-three-chars', domid: 12345, startNs: 61e9 }] };
    expect(renderXlUptime(s)).toBe('Name                                ID Uptime\nDomain-0                             0 1 day,  1:01:01\na-name-longer-than-thirty-three-chars 12345 1 day,  1:00:00\n');
    expect(renderXlUptime(s, { short: true })).toBe(' 01:01:01 up 1 day,  1:01, Domain-0 (0)\n 01:01:01 up 1 day,  1:00, a-name-longer-than-thirty-three-chars (12345)\n');
  });
});

describe('xl sched-credit', () => {
  it('prints each pool line, the header and %-33s %4d %6d %4d rows', () => {
    const text = renderXlSchedCredit({
      pools: [
        { name: 'Pool-0', params: { tsliceMs: 30, ratelimitUs: 1000, migrationDelayUs: 0 }, domains: [{ name: 'Domain-0', domid: 0, weight: 256, cap: 0 }, { name: 'db', domid: 2, weight: 65535, cap: 400 }] },
        { name: 'batch', domains: [] },
      ],
    });
    expect(text).toBe(
      'Cpupool Pool-0: tslice=30ms ratelimit=1000us migration-delay=0us\n' +
        'Name                                ID Weight  Cap\n' +
        'Domain-0                             0    256    0\n' +
        'db                                   2  65535  400\n' +
        'Cpupool batch: [sched params unavailable]\n' +
        'Name                                ID Weight  Cap\n',
    );
  });

  it('prints nothing when no pool runs the credit scheduler', () => {
    expect(renderXlSchedCredit({ pools: [] })).toBe('');
  });
});

describe('xl dmesg, domid, domname', () => {
  it('prints each ring line with its newline, nothing for an empty ring', () => {
    expect(renderXlDmesg({ lines: ['(XEN) Xen version 4.17', '(d1) hello'] })).toBe('(XEN) Xen version 4.17\n(d1) hello\n');
    expect(renderXlDmesg({ lines: [] })).toBe('');
  });

  it('prints the id or the name on a line', () => {
    expect(renderXlDomid({ domid: 32767 })).toBe('32767\n');
    expect(renderXlDomname({ name: 'Domain-0' })).toBe('Domain-0\n');
  });
});

describe('xl list -l', () => {
  it("beautifies as yajl does: 4-space indents, blank line inside empty containers, yajl's escapes", () => {
    expect(yajlBeautify({ a: 1, b: [], c: {}, d: ['x"\\\n\u0001'], e: true, f: null })).toBe(
      '{\n    "a": 1,\n    "b": [\n\n    ],\n    "c": {\n\n    },\n    "d": [\n        "x\\"\\\\\\n\\u0001"\n    ],\n    "e": true,\n    "f": null\n}',
    );
  });

  it('ends the array with yajl\'s newline and puts\'s', () => {
    expect(renderXlListLong({ domains: [] })).toBe('[\n\n]\n\n');
    expect(renderXlListLong({ domains: [{ domid: 0, config: { c_info: { type: 'pv', name: 'Domain-0' } } }] })).toBe(
      '[\n    {\n        "domid": 0,\n        "config": {\n            "c_info": {\n                "type": "pv",\n                "name": "Domain-0"\n            }\n        }\n    }\n]\n\n',
    );
  });
});

function xd(extra: Partial<XentopDomain> = {}): XentopDomain {
  return {
    domid: 1,
    name: 'web',
    flags: running,
    cpuNs: 0,
    curMemBytes: 256 * 2 ** 20,
    maxMemBytes: 512 * 2 ** 20,
    vcpus: 2,
    nets: 0,
    netTxBytes: 0,
    netRxBytes: 0,
    vbds: 0,
    vbdOo: 0,
    vbdRd: 0,
    vbdWr: 0,
    vbdRsect: 0,
    vbdWsect: 0,
    ssid: 0,
    ...extra,
  };
}

function sample(timeNs: number, domains: XentopDomain[]): XentopSample {
  return { timeNs, totMemBytes: 1024 * 2 ** 20, freeMemBytes: 0, numCpus: 4, cpuHz: 3e9, xenVersion: '4.17.0', domains };
}

const XENTOP_HEADER =
  '      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS NETS NETTX(k) NETRX(k) VBDS   VBD_OO   VBD_RD   VBD_WR  VBD_RSECT  VBD_WSECT SSID';

describe('xentop -b', () => {
  it('prints the state column d s b c p r, a crashed domain as shut down and crashed', () => {
    expect(xentopState(running)).toBe('-----r');
    expect(xentopState(blocked)).toBe('--b---');
    expect(xentopState(paused)).toBe('----p-');
    expect(xentopState(shutdown(0))).toBe('-s----');
    expect(xentopState(shutdown(3))).toBe('-s-c--');
    expect(xentopState(dying)).toBe('d-----');
  });

  it('prints the header and a row per domain, CPU(%) 0.0 without a previous sample', () => {
    expect(renderXentopFrame(sample(1e9, [xd({ cpuNs: 3.9e9 })]))).toBe(
      `${XENTOP_HEADER}\n` + '       web -----r          3    0.0     262144   25.0     524288      50.0     2    0        0        0    0        0        0        0          0          0    0\n',
    );
  });

  it('computes CPU(%) from the CPU time gained over the virtual time between samples', () => {
    const a = sample(2e9, [xd({ cpuNs: 1e9 }), xd({ domid: 2, name: 'db', cpuNs: 0 })]);
    const b = sample(5e9, [xd({ cpuNs: 7e9 }), xd({ domid: 2, name: 'db', cpuNs: 1.5e9 }), xd({ domid: 3, name: 'new', cpuNs: 1e9 })]);
    const pct = (text: string, name: string) => text.split('\n').find((l) => l.startsWith(name.padStart(10)))!.slice(29, 35);
    const second = renderXentopBatch([a, b]).split(XENTOP_HEADER)[2]!;
    expect(pct(second, 'web')).toBe(' 200.0');
    expect(pct(second, 'db')).toBe('  50.0');
    expect(pct(second, 'new')).toBe('   0.0');
  });

  it('sorts by name case-insensitively; -z puts Domain-0 first', () => {
    const s = sample(0, [xd({ name: 'web' }), xd({ name: 'Domain-0', domid: 0 }), xd({ name: 'alpha', domid: 2 }), xd({ name: 'Zed', domid: 3 })]);
    const names = (text: string) => text.split('\n').slice(1, -1).map((l) => l.slice(0, 10).trim());
    expect(names(renderXentopFrame(s))).toEqual(['alpha', 'Domain-0', 'web', 'Zed']);
    expect(names(renderXentopFrame(s, undefined, { dom0First: true }))).toEqual(['Domain-0', 'alpha', 'web', 'Zed']);
  });

  it('cuts names to 10 characters, or widens the column with -f', () => {
    const s = sample(0, [xd({ name: 'a-very-long-domain-name' })]);
    expect(renderXentopFrame(s).split('\n')[1]!.slice(0, 11)).toBe('a-very-lon ');
    const full = renderXentopFrame(s, undefined, { fullName: true }).split('\n');
    expect(full[0]!.startsWith(`${'NAME'.padStart(23)}  STATE`)).toBe(true);
    expect(full[1]!.startsWith('a-very-long-domain-name -----r')).toBe(true);
  });

  it('widens the network and block columns for large counters, as adjust_field_widths does', () => {
    const s = sample(0, [xd({ nets: 1, netTxBytes: 123456789 * 1024, vbds: 2, vbdRd: 1234567890, vbdWsect: 99999999999 })]);
    const [header, row] = renderXentopFrame(s).split('\n');
    expect(header).toContain(' NETS  NETTX(k) NETRX(k) ');
    // a column is as wide as the digits of (value + 1): 99999999999 + 1 takes twelve
    expect(header).toContain('    VBD_RD   VBD_WR  VBD_RSECT    VBD_WSECT SSID');
    expect(row).toContain('    1 123456789        0    2        0 1234567890        0          0  99999999999    0');
  });

  it('prints "no limit" and n/a for an unlimited maximum', () => {
    const row = renderXentopFrame(sample(0, [xd({ maxMemBytes: Number.MAX_SAFE_INTEGER })])).split('\n')[1]!;
    expect(row).toContain('  no limit       n/a ');
  });
});
