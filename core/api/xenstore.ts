/**
 * What Dom0 services see of xenstored (the `xenstored` plugin provides it): an in-process client acting
 * as Dom0, and the toolstack's INTRODUCE / RELEASE. Paths are absolute; values are UTF-8 text.
 */
import { token } from './tokens.js';

/** Dom0's reads and writes. Errors are `GuestError`s with xenstore's errno names (ENOENT, EINVAL, EACCES...). */
export interface XenstoreOps {
  /** The value, or undefined when the node does not exist. */
  read(path: string): string | undefined;
  /** Writes (creating missing parents, which inherit the parent's permissions, as XS_WRITE does). */
  write(path: string, value: string): void;
  /** Creates an empty node if absent. */
  mkdir(path: string): void;
  /** Removes a subtree; nothing if absent. */
  rm(path: string): void;
  /** Child names, or undefined when the node does not exist. */
  directory(path: string): readonly string[] | undefined;
  /** Permissions as xenstore-chmod writes them: the first entry is the owner and default (`n0`), then `r5`, `w7`, `b3`. */
  setPerms(path: string, perms: readonly string[]): void;
  /** Permission strings, or undefined when the node does not exist. */
  getPerms(path: string): string[] | undefined;
}

/** The in-process Dom0 client. */
export interface XenstoreClient extends XenstoreOps {
  /**
   * Runs `fn` as one transaction: its writes are seen by others only at the end, and watches fire then
   * (libxl writes a domain's home this way). Throwing inside `fn` abandons every write.
   */
  transaction<T>(fn: (tx: XenstoreOps) => T): T;
  /**
   * Watches `path` (a node and its subtree, or `@introduceDomain` / `@releaseDomain`): `fn` gets the
   * changed path, once at registration as xenstored does, then on every change. Returns the unwatcher.
   */
  watch(path: string, fn: (path: string) => void): () => void;
}

/** The running xenstored. */
export interface Xenstore {
  /** Where socket clients connect (XENSTORED_PATH). */
  readonly socketPath: string;
  /** Dom0's client (privileged). */
  readonly dom0: XenstoreClient;
  /** XS_INTRODUCE from the toolstack: attaches the guest's ring page at `gfn` with its event channel `port` (the guest's side), fires @introduceDomain. */
  introduce(domid: number, gfn: number, port: number): void;
  /** XS_RELEASE: detaches the domain's ring, forgets it, fires @releaseDomain. */
  release(domid: number): void;
  /** True once `domid` was introduced (Dom0 always). */
  isIntroduced(domid: number): boolean;
  /** Domains whose ring is attached, sorted. */
  attachedDomains(): number[];
  /** Nodes in the store (leak checks). */
  nodeCount(): number;
}
export const Xenstore = token<Xenstore>('Xenstore');
