/** What the protocol layers (inet, inet6) see of the stack that owns them. */
import type { EchoReply } from './echo.js';
import type { NetIf } from './netif.js';
import type { NetStats } from './stats.js';

export interface StackContext {
  /** Virtual time in ns. */
  readonly now: () => number;
  readonly stats: NetStats;
  /** The interfaces, in attach order. */
  readonly ifs: readonly NetIf[];
  /** An echo reply arrived for ping. */
  echoReply(reply: EchoReply): void;
  /**
   * A UDP datagram arrived (still unchecked). `src` is a view of the source address (4 or 16 bytes);
   * `group` is true when it was sent to a broadcast or multicast address; `pseudoBase` is the
   * pseudo-header's sum without the length.
   */
  udpInput(ifp: NetIf, family: 4 | 6, src: Uint8Array, group: boolean, bytes: Uint8Array, pseudoBase: number): void;
}
