/** The hypervisor's subsystems, in the order they are made (later ones may use earlier ones' APIs). */
import type { SubsystemFactory } from './subsystem.js';
import { createEventChannels } from '../event-channel/index.js';
import { createGrantTables } from '../grant-table/index.js';
import { createMemoryOps } from '../memory/memory-op.js';
import { createSchedOps } from '../cpu/sched-op.js';
import { createPlatformOps } from '../hypercall/platform.js';
import { createDomctl } from '../hypercall/domctl.js';
import { createHvmPlatforms } from '../hvm/hvm-platforms.js';
import { createPvMm } from '../pv-mm/index.js';

export const CORE_SUBSYSTEMS: readonly SubsystemFactory[] = [createEventChannels, createGrantTables, createMemoryOps, createSchedOps, createPlatformOps, createDomctl, createHvmPlatforms, createPvMm];
