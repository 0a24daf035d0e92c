import { EventEmitter } from 'eventemitter3';
import { describe, expect, it } from 'vitest';
import { GuestError, createLogger, MemoryLogSink, type DomainEvents, type DomainRegistry, type IoreqServers, type XenstoreClient } from '../../../../core/api/index.js';
import { domId } from '../../../../core/public/index.js';
import { DeviceModelHostService } from '../../../../plugins/dom0/device-model/host.js';
import { pit8254Model } from '../../../../plugins/device-models/pit8254/index.js';
import { FakeClock, FakeServer, FakeTasks, hvmConfig } from './fakes.js';

function setup() {
  const clock = new FakeClock();
  const tasks = new FakeTasks(clock);
  const servers: FakeServer[] = [];
  const ioreq: IoreqServers = {
    create(domid) {
      if (domid === 99) throw new GuestError('ESRCH', 'no dom99');
      const s = new FakeServer(domid);
      servers.push(s);
      return s;
    },
    serversOf: (domid) => servers.filter((s) => s.domid === domid),
  };
  const events = new EventEmitter<DomainEvents>();
  const store = new Map<string, string>();
  const xenstore = { write: (p: string, v: string) => void store.set(p, v), rm: (p: string) => [...store.keys()].filter((k) => k.startsWith(p)).forEach((k) => store.delete(k)) } as unknown as XenstoreClient;
  const logs = new MemoryLogSink();
  const host = new DeviceModelHostService({
    servers: ioreq,
    tasks,
    domains: { events } as unknown as DomainRegistry,
    engine: clock as never,
    models: () => [pit8254Model],
    xenstore,
    log: createLogger('device-model', logs.sink, () => clock.now, 'debug'),
  });
  return { host, servers, events, store, tasks, logs };
}

describe('device-model host', () => {
  it('starts a model as a Dom0 task, writes its xenstore state, and stops it when the guest is destroyed', () => {
    const s = setup();
    const job = s.host.start(3, hvmConfig(), 'hvm');
    expect(job.state).toBe('done');
    expect(job.result?.devices).toEqual(['pit8254']);
    expect(s.store.get('/local/domain/0/device-model/3/state')).toBe('running');
    expect(s.host.get(3)?.domid).toBe(3);
    expect(s.tasks.cycles).toBeGreaterThan(0);
    s.events.emit('destroyed', domId(3));
    expect(s.host.get(3)).toBeUndefined();
    expect(s.servers[0]!.destroyed).toBe(true);
    expect(s.store.size).toBe(0);
    s.host.stop(3);
  });

  it('refuses a second model for a guest, PV/PVH guests, and reports an unknown domain as a failed job', () => {
    const s = setup();
    s.host.start(3, hvmConfig(), 'pvhvm');
    expect(s.host.start(3, hvmConfig(), 'hvm').error).toBeInstanceOf(GuestError);
    expect(s.host.start(4, hvmConfig(), 'pvh').error?.message).toMatch(/dom4 is pvh, not HVM/);
    const bad = s.host.start(99, hvmConfig(), 'hvm');
    expect(bad.state).toBe('failed');
    expect(s.logs.lines('error').join('\n')).toMatch(/dom99: device model failed to start: no dom99/);
    expect(s.host.running()).toEqual([3]);
    s.host.dispose();
    expect(s.host.running()).toEqual([]);
  });
});
