/** sched_op, vcpu_op and PV time — being written (issue 3). */
import type { SubsystemFactory } from '../host/subsystem.js';

export const createSchedOps: SubsystemFactory = () => ({ name: 'sched-op' });
