/** Quotas C xenstored applies to unprivileged domains (xen-facts §1.10), and the node-size formula. */

/** Limits for unprivileged domains; CONTROL `quota` shows and sets them. */
export interface XsQuotas {
  /** Nodes a domain may own. */
  nodes: number;
  /** Watches per connection. */
  watches: number;
  /** Open transactions per connection. */
  transactions: number;
  /** Size of one node record (header + perms + data + child names), bytes. */
  nodeSize: number;
  /** Permission entries per node. */
  permissions: number;
  /** Path length beyond `/local/domain/<n>/`. */
  pathMax: number;
  /** Requests a connection may have outstanding (replies not yet written). */
  outstanding: number;
  /** Nodes one transaction may access. */
  transactionNodes: number;
}

/** C xenstored 4.17 defaults. */
export const DEFAULT_QUOTAS: Readonly<XsQuotas> = {
  nodes: 1000,
  watches: 128,
  transactions: 10,
  nodeSize: 2048,
  permissions: 5,
  pathMax: 2048,
  outstanding: 20,
  transactionNodes: 1024,
};

/** Size C's write_node computes: 24-byte record header + 8 per perm + data + child names with NULs. */
export function nodeRecordSize(nperms: number, datalen: number, childlen: number): number {
  return 24 + 8 * nperms + datalen + childlen;
}
