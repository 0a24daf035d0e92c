/** The xenstored plugin's options: the schema is the documentation, so every property has a description. */
import { Type, type Static } from '../../../core/api/index.js';

const quota = (description: string) => Type.Optional(Type.Integer({ minimum: 0, description }));

/** Quota overrides for unprivileged domains; an absent key keeps C xenstored's default (xen-facts §1.10). */
export const XenstoredQuotaOptions = Type.Object(
  {
    nodes: quota('Nodes a domain may own (default 1000).'),
    watches: quota('Watches per connection (default 128).'),
    transactions: quota('Open transactions per connection (default 10).'),
    nodeSize: quota('Bytes of one node record: header, permissions, data and child names (default 2048).'),
    permissions: quota('Permission entries per node (default 5).'),
    pathMax: quota('Path length below /local/domain/<domid>/ (default 2048).'),
    outstanding: quota('Requests a connection may have outstanding (default 20).'),
    transactionNodes: quota('Nodes one transaction may access (default 1024).'),
  },
  { additionalProperties: false, description: 'Quotas for unprivileged domains.' },
);
export type XenstoredQuotaOptions = Static<typeof XenstoredQuotaOptions>;

/** Options of the `xenstored` plugin, checked (and defaulted) by the plugin host before `register()`. */
export const XenstoredOptions = Type.Object(
  {
    socket: Type.Optional(Type.String({ minLength: 1, description: 'Path of the Unix socket; default <run dir>/xenstored.sock. Clients find it through XENSTORED_PATH.' })),
    accessLog: Type.Boolean({ default: false, description: 'Log every request and reply (C xenstored --trace-file) at debug level.' }),
    quotas: Type.Optional(XenstoredQuotaOptions),
  },
  { additionalProperties: false, description: 'The xenstore daemon: the store, its Unix socket and the guest rings.' },
);
export type XenstoredOptions = Static<typeof XenstoredOptions>;
