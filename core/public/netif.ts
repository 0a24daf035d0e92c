/** The network interface (xen/include/public/io/netif.h, Xen 4.17, x86_64 ABI). */

/** `struct netif_tx_request` (12 bytes). */
export const NetifTxRequest = {
  size: 12,
  /** u32 grant of the page holding the data. */
  gref: 0,
  /** u16 offset of the data in that page. */
  offset: 4,
  /** u16 NETTXF_*. */
  flags: 6,
  /** u16 echoed in the response. */
  id: 8,
  /** u16: the first slot of a packet carries the whole packet's size, later slots their own. */
  size_: 10,
} as const;

/** `struct netif_tx_response` (4 bytes). */
export const NetifTxResponse = {
  size: 4,
  id: 0,
  /** i16 NETIF_RSP_*. */
  status: 2,
} as const;

/** `struct netif_rx_request` (8 bytes). */
export const NetifRxRequest = {
  size: 8,
  /** u16. */
  id: 0,
  /** u32 grant of an empty page for the backend to copy into. */
  gref: 4,
} as const;

/** `struct netif_rx_response` (8 bytes). */
export const NetifRxResponse = {
  size: 8,
  id: 0,
  /** u16 offset of the data in the page. */
  offset: 2,
  /** u16 NETRXF_*. */
  flags: 4,
  /** i16: bytes in this fragment when positive, else NETIF_RSP_*. */
  status: 6,
} as const;

/** `struct netif_extra_info` (8 bytes). */
export const NetifExtraInfo = {
  size: 8,
  /** u8 XEN_NETIF_EXTRA_TYPE_*. */
  type: 0,
  /** u8 XEN_NETIF_EXTRA_FLAG_*. */
  flags: 1,
} as const;

/** `NETTXF_*`. */
export const NETTXF = {
  csumBlank: 1 << 0,
  dataValidated: 1 << 1,
  moreData: 1 << 2,
  extraInfo: 1 << 3,
} as const;

/** `NETRXF_*`. */
export const NETRXF = {
  dataValidated: 1 << 0,
  csumBlank: 1 << 1,
  moreData: 1 << 2,
  extraInfo: 1 << 3,
  gsoPrefix: 1 << 4,
} as const;

/** `XEN_NETIF_EXTRA_TYPE_*`. */
export const XEN_NETIF_EXTRA_TYPE = { none: 0, gso: 1, mcastAdd: 2, mcastDel: 3, hash: 4 } as const;
/** `XEN_NETIF_EXTRA_FLAG_MORE`. */
export const XEN_NETIF_EXTRA_FLAG_MORE = 1;

/** `NETIF_RSP_*`. */
export const NETIF_RSP = {
  dropped: -2,
  error: -1,
  okay: 0,
  /** A slot used by extra info: no real response. */
  null: 1,
} as const;

/** Largest packet a tx request may describe. */
export const XEN_NETIF_MAX_TX_SIZE = 0xffff;
/** Slots per packet every backend must accept. */
export const XEN_NETIF_NR_SLOTS_MIN = 18;
/** Slots of one-page tx and rx rings. */
export const NET_TX_RING_SIZE = 256;
export const NET_RX_RING_SIZE = 256;
