/** The in-process side of xenstored: Dom0's privileged client and the `Xenstore` service the plugin provides. */
import { GuestError, type Xenstore, type XenstoreClient, type XenstoreOps } from '../../../core/api/index.js';
import { XenErrno, type XenErrnoName } from '../../../core/public/index.js';
import { DOM0, type XenstoreEngine } from './engine.js';
import { type OpContext, getPerms, makeDir, removeNode, setPerms, writeValue } from './ops.js';
import { formatPerm, parsePerms } from './permissions.js';
import { isSpecialPath, isValidNodename } from './paths.js';
import { XsTransaction, type XsChange } from './transaction.js';
import type { XsWatch, XsWatchOwner } from './watch.js';
import { XsError } from './wire.js';

/** Runs `fn` later, inside the simulation (the plugin: `engine.after(0, fn)`); returns a canceller. */
export type Defer = (fn: () => void) => () => void;

/** What {@link createXenstore} is made from. */
export interface XenstoreServiceOptions {
  engine: XenstoreEngine;
  socketPath: string;
  /** Domains whose ring is attached (the ring transport's). */
  attached: () => number[];
  /** Where the initial event of an in-process watch is delivered from (xenstored sends it after the reply). */
  defer: Defer;
}

/** An XsError as the GuestError the contract promises (a name Xen's errno table lacks becomes EINVAL). */
function guestError(e: XsError): GuestError {
  const name = (e.errno in XenErrno ? e.errno : 'EINVAL') as XenErrnoName;
  return new GuestError(name, `xenstore: ${e.message}`);
}

/** Runs `f`, turning XsErrors into GuestErrors. */
function guarded<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw e instanceof XsError ? guestError(e) : e;
  }
}

/** True when every char of `s` is ASCII: then its UTF-8 bytes, one char per byte, are `s` itself. */
function ascii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 128) return false;
  return true;
}

/** A value's UTF-8 bytes as the store keeps them (one char per byte): ASCII text (most of a domain's home) as is. */
function utf8(value: string): string {
  return ascii(value) ? value : Buffer.from(value, 'utf8').toString('latin1');
}

/** Text of a stored value (UTF-8 bytes, one char per byte). */
function text(bytes: string): string {
  return ascii(bytes) ? bytes : Buffer.from(bytes, 'latin1').toString('utf8');
}

function checkPath(path: string): string {
  if (!isValidNodename(path, true)) throw new XsError('EINVAL', `bad path "${path}"`);
  return path;
}

/** Dom0's operations over `ctx`, each change handed to `changed` (fired now, or kept for a commit). */
function opsOver(ctx: OpContext, engine: XenstoreEngine, changed: (c: XsChange) => void): XenstoreOps {
  const absent = (e: unknown): boolean => e instanceof XsError && e.errno === 'ENOENT';
  return {
    read: (path) =>
      guarded(() => {
        const node = ctx.view.get(checkPath(path));
        return node === undefined ? undefined : text(node.value);
      }),
    write: (path, value) => guarded(() => changed(writeValue(ctx, checkPath(path), utf8(value)))),
    mkdir: (path) =>
      guarded(() => {
        const c = makeDir(ctx, checkPath(path));
        if (c) changed(c);
      }),
    rm: (path) =>
      guarded(() => {
        let c: XsChange | null;
        try {
          c = removeNode(ctx, checkPath(path));
        } catch (e) {
          if (absent(e)) return;
          throw e;
        }
        if (c) changed(c);
      }),
    directory: (path) => guarded(() => ctx.view.get(checkPath(path))?.children.names()),
    setPerms: (path, perms) =>
      guarded(() => {
        const list = parsePerms(perms);
        if (!list) throw new XsError('EINVAL', `bad permissions ${perms.join(' ')} for ${path}`);
        // Special nodes live outside transactions; changing their perms fires nothing.
        if (isSpecialPath(path)) setPerms({ caller: DOM0, view: engine.store, quotas: engine.quotas }, path, list);
        else changed(setPerms(ctx, checkPath(path), list));
      }),
    getPerms: (path) =>
      guarded(() => {
        if (!isSpecialPath(path)) checkPath(path);
        try {
          return getPerms(ctx, path).map(formatPerm);
        } catch (e) {
          if (absent(e)) return undefined;
          throw e;
        }
      }),
  };
}

/** Dom0's client: privileged, acting directly on the engine's store. */
export function createDom0Client(engine: XenstoreEngine, defer: Defer): XenstoreClient {
  const ctx: OpContext = { caller: DOM0, view: engine.store, quotas: engine.quotas };
  const direct = opsOver(ctx, engine, (c) => engine.fire(c));
  return {
    ...direct,
    transaction<T>(fn: (tx: XenstoreOps) => T): T {
      const tx = new XsTransaction(0, engine.store);
      const result = fn(opsOver({ caller: DOM0, view: tx, quotas: engine.quotas }, engine, (c) => tx.changes.push(c)));
      // Only `fn` itself can have changed what it read (by writing outside the transaction).
      if (!tx.valid()) throw new GuestError('EAGAIN', 'xenstore: transaction conflict: a node it accessed changed outside it');
      tx.apply();
      for (const c of tx.changes) engine.fire(c);
      return result;
    },
    watch(path: string, fn: (path: string) => void): () => void {
      guarded(() => {
        if (path.startsWith('@')) {
          if (!isSpecialPath(path)) throw new XsError('EINVAL', `bad watch path "${path}"`);
        } else checkPath(path);
      });
      let live = true;
      const owner: XsWatchOwner = {
        caller: DOM0,
        sendEvent: (p) => {
          if (live) fn(p);
        },
      };
      const w: XsWatch = { owner, path, token: '', stripPrefix: 0 };
      engine.watches.add(w);
      const cancel = defer(() => owner.sendEvent(path, ''));
      return () => {
        if (!live) return;
        live = false;
        cancel();
        engine.watches.remove(w);
      };
    },
  };
}

/** The `Xenstore` service: Dom0's client, INTRODUCE / RELEASE, and what the toolstack asks of the daemon. */
export function createXenstore(options: XenstoreServiceOptions): Xenstore {
  const { engine } = options;
  return {
    socketPath: options.socketPath,
    dom0: createDom0Client(engine, options.defer),
    introduce: (domid, gfn, port) => guarded(() => engine.introduceDomain(domid, gfn, port)),
    release: (domid) => guarded(() => engine.releaseDomain(domid)),
    isIntroduced: (domid) => engine.isIntroduced(domid),
    attachedDomains: () => options.attached(),
    nodeCount: () => engine.store.size,
  };
}
