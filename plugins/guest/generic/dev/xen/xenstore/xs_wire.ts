/**
 * The xenstore wire format as this guest's client uses it (io/xs_wire.h, xen-facts §1.1, §1.8): the
 * message types it sends, and the header and ring layout from core/public.
 */

/** `enum xsd_sockmsg_type`: the message types this client sends or receives. */
export const XsType = {
  DIRECTORY: 1,
  READ: 2,
  WATCH: 4,
  UNWATCH: 5,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  WATCH_EVENT: 15,
  ERROR: 16,
} as const;
export type XsTypeName = keyof typeof XsType;

export { XsdSockmsg, XENSTORE_PAYLOAD_MAX, XenstoreDomainInterface, XENSTORE_RING_SIZE } from '../../../../../../core/public/index.js';
