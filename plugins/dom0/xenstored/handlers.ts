/** One function per xenstore message type (C xenstored's wire_funcs), decoding the payload and replying. */
import { runControl } from './control.js';
import { type OpContext, getNode, getPerms, makeDir, readValue, removeNode, setPerms, writeValue } from './ops.js';
import { PERM_READ, formatPerms, parsePerms } from './permissions.js';
import { atoi, canonicalize, domainPath, isSpecialPath, isValidNodename, isValidNodenameBytes, bytesHash } from './paths.js';
import type { XsSessionImpl } from './session.js';
import { type XsNode, directoryBytes } from './store.js';
import { type XsChange, XsTransaction } from './transaction.js';
import { XENSTORE_PAYLOAD_MAX, XENSTORE_REL_PATH_MAX, XsError, XsType, latin1, oneArg, splitStrings } from './wire.js';

/** A decoded request on its way through the dispatcher. */
export interface XsRequest {
  type: number;
  reqId: number;
  txId: number;
  payload: Uint8Array;
  /** The open transaction named by the header, if any. */
  tx: XsTransaction | null;
}

type Handler = (s: XsSessionImpl, req: XsRequest) => void;

/** Types reserved to privileged callers (XS_FLAG_PRIV): others get EACCES. */
export const PRIVILEGED: ReadonlySet<number> = new Set([
  XsType.CONTROL, XsType.INTRODUCE, XsType.RELEASE, XsType.IS_DOMAIN_INTRODUCED, XsType.RESUME, XsType.SET_TARGET,
]);
/** Types that ignore the header's tx_id (XS_FLAG_NOTID). */
export const NOTID: ReadonlySet<number> = new Set([XsType.WATCH, XsType.UNWATCH, XsType.RESET_WATCHES]);

function ctxOf(s: XsSessionImpl, req: XsRequest): OpContext {
  return req.tx ? { caller: s.caller, view: req.tx, quotas: s.engine.quotas } : s.storeCtx;
}

/** Canonical node path of a request argument, or EINVAL. */
function nodePath(s: XsSessionImpl, raw: string | null, allowSpecial = false): string {
  if (raw === null) throw new XsError('EINVAL');
  const path = canonicalize(raw, s.caller.domid);
  if (allowSpecial && isSpecialPath(path)) return path;
  if (!isValidNodename(path, s.caller.privileged, s.engine.quotas.pathMax)) throw new XsError('EINVAL', raw);
  return path;
}

/**
 * `nodePath(s, oneArg(p), allowSpecial)`: the payload's one NUL-terminated path, canonical and valid.
 * A privileged caller's absolute path is validated on the bytes in one pass and decoded once; anything
 * else (relative, special, unprivileged, invalid) takes the general route, which gives the same answer.
 */
function pathArg(s: XsSessionImpl, p: Uint8Array, allowSpecial = false): string {
  const end = p.length - 1;
  if (s.caller.privileged && end > 0 && p[end] === 0 && isValidNodenameBytes(p, 0, end)) return latin1(p, 0, end);
  return nodePath(s, oneArg(p), allowSpecial);
}

/** A change: fired now, or kept for the transaction's commit. */
function changed(s: XsSessionImpl, req: XsRequest, change: XsChange | null): void {
  if (req.tx) {
    if (!s.caller.privileged && req.tx.touched > s.engine.quotas.transactionNodes) throw new XsError('ENOSPC', 'transaction nodes');
    if (change) req.tx.changes.push(change);
  } else if (change) s.engine.fire(change);
}

function strings(req: XsRequest): string[] {
  return splitStrings(req.payload).strings;
}

function domidArg(req: XsRequest): number {
  const a = oneArg(req.payload);
  if (a === null) throw new XsError('EINVAL');
  return atoi(a);
}

/**
 * The hot path of READ and DIRECTORY: a privileged caller outside a transaction naming an existing
 * node by absolute path gets it straight from the path bytes, hashed and compared but never decoded.
 * No validation is needed: every stored path starting with `/` is a valid node path, so bytes equal to
 * one are too. Anything else (absent, relative, `@`, in a transaction, unprivileged) is undefined and
 * takes the general route, which gives the same answer.
 */
function committedNode(s: XsSessionImpl, req: XsRequest): XsNode | undefined {
  const p = req.payload;
  const end = p.length - 1;
  if (!s.caller.privileged || req.tx !== null || end <= 0 || p[end] !== 0 || p[0] !== 47) return undefined;
  return s.engine.store.getBytes(p, 0, end, bytesHash(p, 0, end));
}

const handleRead: Handler = (s, req) => {
  const node = committedNode(s, req);
  s.reply(req, XsType.READ, node ? node.value : readValue(ctxOf(s, req), pathArg(s, req.payload)));
};

const handleDirectory: Handler = (s, req) => {
  const node = committedNode(s, req) ?? getNode(ctxOf(s, req), pathArg(s, req.payload), PERM_READ);
  s.reply(req, XsType.DIRECTORY, directoryBytes(node));
};

const handleDirectoryPart: Handler = (s, req) => {
  const v = splitStrings(req.payload);
  if (v.strings.length !== 2) throw new XsError('EINVAL');
  const node = getNode(ctxOf(s, req), nodePath(s, v.strings[0]!), PERM_READ);
  const off = atoi(v.strings[1]!);
  const gen = `${node.gen}\0`;
  const children = directoryBytes(node);
  if (off >= children.length || off < 0) {
    s.reply(req, XsType.DIRECTORY_PART, `${gen}\0`);
    return;
  }
  const max = XENSTORE_PAYLOAD_MAX - gen.length - 1;
  let len = 0;
  while (off + len < children.length) {
    const end = children.indexOf(0, off + len);
    const clen = end - (off + len) + 1;
    if (len + clen > max) break;
    len += clen;
  }
  const last = off + len === children.length;
  s.reply(req, XsType.DIRECTORY_PART, `${gen}${latin1(children, off, off + len)}${last ? '\0' : ''}`);
};

const handleGetPerms: Handler = (s, req) => {
  s.reply(req, XsType.GET_PERMS, formatPerms(getPerms(ctxOf(s, req), pathArg(s, req.payload, true))));
};

const handleWrite: Handler = (s, req) => {
  const p = req.payload;
  const nul = p.indexOf(0);
  if (nul < 0) throw new XsError('EINVAL');
  const path = s.caller.privileged && isValidNodenameBytes(p, 0, nul) ? latin1(p, 0, nul) : nodePath(s, latin1(p, 0, nul));
  // Decoded into a string: the value outlives the transport's buffer.
  changed(s, req, writeValue(ctxOf(s, req), path, latin1(p, nul + 1, p.length)));
  s.ack(req);
};

const handleMkdir: Handler = (s, req) => {
  changed(s, req, makeDir(ctxOf(s, req), pathArg(s, req.payload)));
  s.ack(req);
};

const handleRm: Handler = (s, req) => {
  changed(s, req, removeNode(ctxOf(s, req), pathArg(s, req.payload)));
  s.ack(req);
};

const handleSetPerms: Handler = (s, req) => {
  const v = splitStrings(req.payload);
  if (v.strings.length < 2) throw new XsError('EINVAL');
  const nperms = v.strings.length - 1;
  if (!s.caller.privileged && nperms > s.engine.quotas.permissions) throw new XsError('ENOSPC', 'perms');
  const perms = parsePerms(v.strings.slice(1));
  if (!perms) throw new XsError('EINVAL');
  const raw = v.strings[0]!;
  if (raw.startsWith('@')) {
    if (!isSpecialPath(raw)) throw new XsError('EINVAL', raw);
    // Special nodes live outside transactions; changing their perms fires nothing.
    (setPerms({ caller: s.caller, view: s.engine.store, quotas: s.engine.quotas }, raw, perms));
  } else {
    changed(s, req, setPerms(ctxOf(s, req), nodePath(s, raw), perms));
  }
  s.ack(req);
};

/** C's check_watch_path: `@` paths as they are; others canonical and valid. Returns [path, stripPrefix]. */
function watchPath(s: XsSessionImpl, raw: string): [string, number] {
  if (raw.startsWith('@')) {
    if (raw.length > XENSTORE_REL_PATH_MAX) throw new XsError('EINVAL');
    return [raw, 0];
  }
  const path = nodePath(s, raw);
  return [path, raw.startsWith('/') ? 0 : domainPath(s.caller.domid).length + 1];
}

const handleWatch: Handler = (s, req) => {
  const v = strings(req);
  if (v.length !== 2) throw new XsError('EINVAL');
  const [path, stripPrefix] = watchPath(s, v[0]!);
  const token = v[1]!;
  const watches = s.engine.watches;
  if (watches.find(s, path, token)) throw new XsError('EEXIST');
  if (!s.caller.privileged && watches.of(s).length >= s.engine.quotas.watches) throw new XsError('ENOSPC', 'watches');
  watches.add({ owner: s, path, token, stripPrefix });
  s.ack(req);
  // Fired once up front, after the ack.
  s.sendEvent(path.slice(stripPrefix), token);
};

const handleUnwatch: Handler = (s, req) => {
  const v = strings(req);
  if (v.length !== 2) throw new XsError('EINVAL');
  const raw = v[0]!;
  const path = raw.startsWith('@') ? raw : canonicalize(raw, s.caller.domid);
  const w = s.engine.watches.find(s, path, v[1]!);
  if (!w) throw new XsError('ENOENT');
  s.engine.watches.remove(w);
  s.ack(req);
};

const handleTransactionStart: Handler = (s, req) => {
  if (req.tx) throw new XsError('EBUSY');
  if (!s.caller.privileged && s.transactions.size >= s.engine.quotas.transactions) throw new XsError('ENOSPC', 'transactions');
  const id = s.allocTxId();
  s.transactions.set(id, new XsTransaction(id, s.engine.store));
  s.reply(req, XsType.TRANSACTION_START, `${id}\0`);
};

const handleTransactionEnd: Handler = (s, req) => {
  const arg = oneArg(req.payload);
  if (arg !== 'T' && arg !== 'F') throw new XsError('EINVAL');
  const tx = req.tx;
  if (!tx) throw new XsError('ENOENT');
  s.transactions.delete(tx.id);
  if (arg === 'T') {
    if (!tx.valid()) throw new XsError('EAGAIN');
    tx.apply();
    for (const c of tx.changes) s.engine.fire(c);
  }
  s.ack(req);
};

const handleIntroduce: Handler = (s, req) => {
  const v = strings(req);
  if (v.length < 3) throw new XsError('EINVAL');
  s.engine.introduceDomain(atoi(v[0]!), atoi(v[1]!), atoi(v[2]!));
  s.ack(req);
};

const handleRelease: Handler = (s, req) => {
  s.engine.releaseDomain(domidArg(req));
  s.ack(req);
};

const handleGetDomainPath: Handler = (s, req) => {
  s.reply(req, XsType.GET_DOMAIN_PATH, `${domainPath(domidArg(req))}\0`);
};

const handleIsDomainIntroduced: Handler = (s, req) => {
  s.reply(req, XsType.IS_DOMAIN_INTRODUCED, s.engine.isIntroduced(domidArg(req)) ? 'T\0' : 'F\0');
};

const handleResume: Handler = (s, req) => {
  const domid = domidArg(req);
  if (!s.engine.isIntroduced(domid)) throw new XsError('ENOENT');
  s.engine.resumeDomain(domid);
  s.ack(req);
};

const handleSetTarget: Handler = (s, req) => {
  const v = strings(req);
  if (v.length !== 2) throw new XsError('EINVAL');
  const domid = atoi(v[0]!);
  const target = atoi(v[1]!);
  if (!s.engine.isIntroduced(domid)) throw new XsError('ENOENT', `dom${domid}`);
  const exists = s.engine.hooks?.domainExists?.(target) ?? s.engine.isIntroduced(target);
  if (!exists) throw new XsError('ENOENT', `dom${target}`);
  s.engine.targets.set(domid, target);
  s.ack(req);
};

const handleResetWatches: Handler = (s, req) => {
  s.reset();
  s.ack(req);
};

const handleControl: Handler = (s, req) => {
  const v = strings(req);
  if (v.length === 0) throw new XsError('EINVAL');
  const out = runControl(s.engine, v);
  s.reply(req, XsType.CONTROL, `${out}\0`);
};

/** The dispatch table, indexed by message type (holes → ENOSYS). */
export const HANDLERS: ReadonlyArray<Handler | undefined> = (() => {
  const t: Array<Handler | undefined> = [];
  t[XsType.CONTROL] = handleControl;
  t[XsType.DIRECTORY] = handleDirectory;
  t[XsType.READ] = handleRead;
  t[XsType.GET_PERMS] = handleGetPerms;
  t[XsType.WATCH] = handleWatch;
  t[XsType.UNWATCH] = handleUnwatch;
  t[XsType.TRANSACTION_START] = handleTransactionStart;
  t[XsType.TRANSACTION_END] = handleTransactionEnd;
  t[XsType.INTRODUCE] = handleIntroduce;
  t[XsType.RELEASE] = handleRelease;
  t[XsType.GET_DOMAIN_PATH] = handleGetDomainPath;
  t[XsType.WRITE] = handleWrite;
  t[XsType.MKDIR] = handleMkdir;
  t[XsType.RM] = handleRm;
  t[XsType.SET_PERMS] = handleSetPerms;
  t[XsType.IS_DOMAIN_INTRODUCED] = handleIsDomainIntroduced;
  t[XsType.RESUME] = handleResume;
  t[XsType.SET_TARGET] = handleSetTarget;
  t[XsType.RESET_WATCHES] = handleResetWatches;
  t[XsType.DIRECTORY_PART] = handleDirectoryPart;
  return t;
})();
