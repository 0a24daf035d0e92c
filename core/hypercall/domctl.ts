/** domctl and sysctl for Dom0's toolstack — being written (issue 3). */
import type { SubsystemFactory } from '../host/subsystem.js';

export const createDomctl: SubsystemFactory = () => ({ name: 'domctl' });
