import { describe, expect, it } from 'vitest';
import { formatDomainList, formatInfo, stateLetters, XL_LIST_HEADER } from '../../../core/cli/format.js';
import type { Domain, DomainState, ShutdownReason } from '../../../core/api/domain.js';

function domain(state: DomainState, shutdownReason?: ShutdownReason, extra: Partial<Domain> = {}): Domain {
  const vcpu = { isUp: true, runstateInfo: () => ({ state: 'running', stateEntryTime: 0, time: { running: 2.5e9, runnable: 0, blocked: 0, offline: 0 } }) };
  return { domid: 7, name: 'web', state, shutdownReason, totPages: 131072, vcpus: [vcpu, { ...vcpu, isUp: false }], ...extra } as unknown as Domain;
}

describe('xl list formatting', () => {
  it('sets one state letter per condition, with the shutdown reason as xl spells it', () => {
    expect(stateLetters(domain('running'))).toBe('r-----');
    expect(stateLetters(domain('blocked'))).toBe('-b----');
    expect(stateLetters(domain('paused'))).toBe('--p---');
    expect(stateLetters(domain('shutdown', 'poweroff'))).toBe('---s--');
    expect(stateLetters(domain('shutdown', 'reboot'))).toBe('---sr-');
    expect(stateLetters(domain('shutdown', 'crash'))).toBe('---sc-');
    expect(stateLetters(domain('shutdown', 'watchdog'))).toBe('---sw-');
    expect(stateLetters(domain('shutdown', 'soft_reset'))).toBe('---sS-');
    expect(stateLetters(domain('dying'))).toBe('-----d');
  });

  it("lays rows out in xl's columns: memory in MiB, online vCPUs, CPU seconds", () => {
    expect(formatDomainList([domain('blocked')])).toBe(
      `${XL_LIST_HEADER}\n` + 'web                                          7   512     1     -b----       5.0\n',
    );
  });

  it('pads info keys to 23 columns as xl info does', () => {
    expect(formatInfo([['host', 'lab'], ['nr_cpus', 4]])).toBe('host                   : lab\nnr_cpus                : 4\n');
  });
});
