/** A CPU's interrupt handler lists: ports, pushed due times and pull flags kept beside the handlers as they come and go. */
import { describe, expect, it } from 'vitest';
import type { VcpuApi } from '../../../../core/api/index.js';
import { IntrHandler } from '../../../../plugins/guest/generic/kern/kern_intr.js';
import { Pcpu } from '../../../../plugins/guest/generic/kern/pcpu.js';

function bind(cpu: Pcpu, name: string, port: number, deadline?: () => number): IntrHandler {
  const h = new IntrHandler({ name, port, handle: () => false, ...(deadline ? { deadline } : {}) }, cpu);
  cpu.addIntr(h);
  return h;
}

describe('Pcpu interrupt lists', () => {
  it('keep each handler\'s port, due time and pull flag at its index, through removals', () => {
    const cpu = new Pcpu(0, {} as VcpuApi);
    const a = bind(cpu, 'a', 5);
    const b = bind(cpu, 'b', 7, () => 900);
    const c = bind(cpu, 'c', 5);
    b.due = 400;
    c.due = 1;
    expect(cpu.intrPorts).toEqual([5, 7, 5]);
    expect(cpu.idlePorts).toEqual([5, 7]);
    expect(cpu.intrPull).toEqual([false, true, false]);
    expect(b.nextDue()).toBe(400);

    cpu.removeIntr(a);
    expect(cpu.intr).toEqual([b, c]);
    expect(cpu.intrPorts).toEqual([7, 5]);
    expect(cpu.intrDue).toEqual([400, 1]);
    expect(c.due).toBe(1);
    expect(cpu.idlePorts).toEqual([7, 5]);

    // An unbound handler keeps its own due time; removing it twice changes nothing.
    a.due = 33;
    expect(a.due).toBe(33);
    cpu.removeIntr(a);
    expect(cpu.intrDue).toEqual([400, 1]);
    cpu.removeIntr(c);
    expect(cpu.idlePorts).toEqual([7]);
    expect(c.due).toBe(1);
    cpu.addIntr(a);
    expect(cpu.intrDue).toEqual([400, 33]);
  });
});
