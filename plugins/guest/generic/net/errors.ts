/** The network stack's errors: an errno name (as sendto(2) would return) and a message naming what failed. */

export type NetErrno = 'EINVAL' | 'ENXIO' | 'EEXIST' | 'EADDRINUSE' | 'ENETUNREACH' | 'EMSGSIZE' | 'ENETDOWN';

/** A call the stack refused: `ping: no route to 10.1.0.1`, `xn1: no such interface`. */
export class NetError extends Error {
  constructor(
    readonly code: NetErrno,
    message: string,
  ) {
    super(message);
    this.name = 'NetError';
  }
}
