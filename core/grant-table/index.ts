/** Grant tables v1 (HYPERVISOR_grant_table_op): the subsystem factory the host makes. */
import type { SubsystemFactory } from '../host/subsystem.js';
import { createGrantTablesSubsystem } from './grant-table.js';

/** Makes the grant-table subsystem (hypercall 20 and the `GrantTables` in-core API). */
export const createGrantTables: SubsystemFactory = (ctx) => createGrantTablesSubsystem(ctx);
