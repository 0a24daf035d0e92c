/** The xenstore wire header and ring page (io/xs_wire.h, Xen 4.17; xen-facts §1.1, §1.8). */

/** `struct xsd_sockmsg` (16 bytes): type u32 @0, req_id u32 @4, tx_id u32 @8, len u32 @12. */
export const XsdSockmsg = { size: 16, type: 0, reqId: 4, txId: 8, len: 12 } as const;

/** XENSTORE_PAYLOAD_MAX. */
export const XENSTORE_PAYLOAD_MAX = 4096;

/** `struct xenstore_domain_interface` (one page). */
export const XenstoreDomainInterface = {
  req: 0,
  rsp: 1024,
  reqCons: 2048,
  reqProd: 2052,
  rspCons: 2056,
  rspProd: 2060,
  serverFeatures: 2064,
  connection: 2068,
  error: 2072,
} as const;
/** XENSTORE_RING_SIZE: bytes of each ring; index `x` lives at `x & (XENSTORE_RING_SIZE - 1)`. */
export const XENSTORE_RING_SIZE = 1024;
