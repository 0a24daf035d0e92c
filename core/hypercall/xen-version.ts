/** The xen_version hypercall (17): the first real handler, so the dispatch path is exercised end to end. */
import type { HypercallArgs, HypercallContext, HypercallTable } from '../api/hypercall.js';
import { GuestError } from '../api/errors.js';
import { PAGE_SIZE } from '../public/memory.js';
import { XEN_MAJOR, XEN_MINOR } from '../public/xen.js';

export { XENVER } from '../public/version.js';
import { XENVER } from '../public/version.js';

const XENVER_VERSION = (XEN_MAJOR << 16) | XEN_MINOR;

/** `do_xen_version(cmd, arg)`. Sub-ops that copy to guest memory wait for copy_to_guest and return ENOSYS for now. */
export function doXenVersion(ctx: HypercallContext, args: HypercallArgs): number {
  const cmd = args[0] ?? 0;
  switch (cmd) {
    case XENVER.version:
      return XENVER_VERSION;
    case XENVER.pagesize:
      return PAGE_SIZE;
    default:
      throw new GuestError('ENOSYS', `xen_version: sub-op ${cmd} is not implemented`, { domid: ctx.domid });
  }
}

/** Registers the xen_version handler; returns its remover. */
export function registerXenVersion(table: HypercallTable): () => void {
  return table.register('xen_version', doXenVersion);
}
