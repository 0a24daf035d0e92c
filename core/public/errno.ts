/** Xen's errno values (xen/include/public/errno.h; equal to Linux's for these). Hypercalls return `-value`. */

export const XenErrno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOSPC: 28,
  EROFS: 30,
  EMLINK: 31,
  EDOM: 33,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOLCK: 37,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ENODATA: 61,
  ETIME: 62,
  EBADMSG: 74,
  EOVERFLOW: 75,
  EILSEQ: 84,
  ERESTART: 85,
  ENOTSOCK: 88,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
} as const;
export type XenErrnoName = keyof typeof XenErrno;

const errnoNames = new Map<number, XenErrnoName>(
  (Object.entries(XenErrno) as [XenErrnoName, number][]).map(([name, value]) => [value, name]),
);

/** Name of a (positive or negative) errno value, e.g. `-38 → "ENOSYS"`. */
export function errnoName(value: number): string {
  return errnoNames.get(Math.abs(value)) ?? `E${Math.abs(value)}`;
}
