/**
 * The ioreq ABI between Xen and a device model (public/hvm/ioreq.h, 4.17): one 32-byte `ioreq_t` per
 * vCPU in the shared page (`shared_iopage_t`), filled by Xen when the vCPU exits on an access the
 * device model claimed, answered by the device model, then signalled on the vCPU's event channel.
 */

/** `struct ioreq` field offsets. */
export const Ioreq = {
  /** u64: guest-physical address or I/O port. */
  addr: 0,
  /** u64: data (or, with data_is_ptr, the guest-physical address of the data). */
  data: 8,
  /** u32: repetitions (rep prefixes). */
  count: 16,
  /** u32: access size in bytes. */
  size: 20,
  /** u32: the device model's event channel for this vCPU. */
  vpEport: 24,
  /** u8 bitfield: state:4 (bits 0-3), data_is_ptr:1 (bit 4), dir:1 (bit 5), df:1 (bit 6). */
  flags: 30,
  /** u8: IOREQ_TYPE_*. */
  type: 31,
} as const;
export const IOREQ_SIZE = 32;

/** `dir`. */
export const IOREQ_READ = 1;
export const IOREQ_WRITE = 0;

/** `state`. */
export const IOREQ_STATE = { none: 0, ready: 1, inprocess: 2, respReady: 3 } as const;

/** `type`. */
export const IOREQ_TYPE = { pio: 0, copy: 1, pciConfig: 2, timeoffset: 7, invalidate: 8 } as const;

/** Bits of the flags byte. */
export const IOREQ_FLAG_STATE_MASK = 0x0f;
export const IOREQ_FLAG_DATA_IS_PTR = 1 << 4;
export const IOREQ_FLAG_DIR_READ = 1 << 5;
export const IOREQ_FLAG_DF = 1 << 6;
