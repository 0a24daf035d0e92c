/** Grant tables v1 — being written (issue 3). */
import type { SubsystemFactory } from '../host/subsystem.js';

export const createGrantTables: SubsystemFactory = () => ({ name: 'grant-table' });
