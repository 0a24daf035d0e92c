/** Event channels (2-level ABI) — being written (issue 3). */
import type { SubsystemFactory } from '../host/subsystem.js';

export const createEventChannels: SubsystemFactory = () => ({ name: 'event-channel' });
