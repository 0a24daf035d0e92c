/** The xenstored protocol engine: store, watches, domains and sessions, plus an in-process API for the host. */
import type { XsConnection, XsDomainHooks, XsSession } from './connection.js';
import { makeDir, type OpContext, removeNode, setPerms as opSetPerms, getPerms as opGetPerms, writeValue, getNode } from './ops.js';
import { PERM_READ, type XsCaller, type XsPerm, formatPerm, parsePerms, permFor } from './permissions.js';
import { DEFAULT_QUOTAS, type XsQuotas } from './quota.js';
import { XsSessionImpl } from './session.js';
import { XsStore } from './store.js';
import type { XsChange } from './transaction.js';
import { type XsWatch, XsWatchTable } from './watch.js';
import { XsError, latin1 } from './wire.js';

/** One line of the access log: who sent which message about which path. */
export interface XsAccessEntry {
  id: number;
  label: string;
  /** Message type name (`READ`, `WRITE`...). */
  type: string;
  /** First argument (usually the path), or empty. */
  path: string;
}

/** Options of the engine. */
export interface XenstoreEngineOptions {
  /** Transport hooks for INTRODUCE / RELEASE (absent: those succeed with no transport action). */
  hooks?: XsDomainHooks;
  /** Overrides of the unprivileged-domain quotas. */
  quotas?: Partial<XsQuotas>;
  /** Log lines (CONTROL print, protocol violations). */
  log?: (line: string) => void;
  /** Access log for every connection (a connection may also get its own in `connect`). */
  accessLog?: (entry: XsAccessEntry) => void;
}

/** Per-connection options. */
export interface XsConnectOptions {
  accessLog?: (entry: XsAccessEntry) => void;
}

interface DomainState {
  gfn: number;
  port: number;
  /** @releaseDomain already fired for a shutdown (re-armed by RESUME). */
  shutdown: boolean;
}

/** The in-process Dom0 caller. */
export const DOM0: XsCaller = { domid: 0, privileged: true, target: undefined };

/** Runs a transport hook; a throw becomes that error's xenstore name (EINVAL if it has none). */
function callHook(f: () => void): void {
  try {
    f();
  } catch (e) {
    const code = (e as { code?: unknown; errno?: unknown }).code ?? (e as { errno?: unknown }).errno;
    throw new XsError(typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? (code as 'EINVAL') : 'EINVAL', String(e));
  }
}

/** C xenstored's core, in process. Sessions come from `connect`; the host uses the direct methods. */
export class XenstoreEngine {
  readonly store = new XsStore();
  readonly watches = new XsWatchTable();
  readonly quotas: XsQuotas;
  readonly hooks: XsDomainHooks | undefined;
  readonly log: (line: string) => void;
  readonly accessLog: ((entry: XsAccessEntry) => void) | undefined;
  /** SET_TARGET: domid → the domain whose rights it has. */
  readonly targets = new Map<number, number>();
  private readonly domains = new Map<number, DomainState>([[0, { gfn: 0, port: 0, shutdown: false }]]);
  private readonly sessions = new Set<XsSessionImpl>();
  /** Sessions by domid, so releasing a domain costs its own sessions only. */
  private readonly sessionsOf = new Map<number, Set<XsSessionImpl>>();

  constructor(options: XenstoreEngineOptions = {}) {
    this.quotas = { ...DEFAULT_QUOTAS, ...options.quotas };
    this.hooks = options.hooks;
    this.log = options.log ?? (() => {});
    this.accessLog = options.accessLog;
  }

  /** A new peer: returns the session its transport feeds. */
  connect(conn: XsConnection, options: XsConnectOptions = {}): XsSession {
    const s = new XsSessionImpl(this, conn, options.accessLog ?? this.accessLog);
    this.sessions.add(s);
    let set = this.sessionsOf.get(conn.domid);
    if (!set) this.sessionsOf.set(conn.domid, (set = new Set()));
    set.add(s);
    return s;
  }

  /** @internal A session ended. */
  dropSession(s: XsSessionImpl): void {
    this.watches.removeAll(s);
    this.sessions.delete(s);
    const set = this.sessionsOf.get(s.conn.domid);
    if (set?.delete(s) && set.size === 0) this.sessionsOf.delete(s.conn.domid);
  }

  /** Live sessions (CONTROL output, tests). */
  get connectionCount(): number {
    return this.sessions.size;
  }

  // --- watches -------------------------------------------------------------------------------------

  /** Fires the watches a committed change triggers (events go out before the caller's reply). */
  fire(change: XsChange): void {
    this.watches.matches(change.path, change.recurse, (w, eventPath) => this.deliver(w, eventPath, change));
  }

  private deliver(w: XsWatch, eventPath: string, change: XsChange): void {
    const s = w.owner;
    const caller = s.caller;
    if (!caller.privileged) {
      const perms = change.node?.perms;
      const ok = (perms && permFor(caller, perms) & PERM_READ) || (change.oldPerms && permFor(caller, change.oldPerms) & PERM_READ);
      if (!ok) return;
    }
    s.sendEvent(eventPath.slice(w.stripPrefix), w.token);
  }

  /** Fires a special watch (`@introduceDomain` / `@releaseDomain`) for those allowed to see it. */
  fireSpecial(path: '@introduceDomain' | '@releaseDomain'): void {
    this.fire({ path, recurse: false, node: this.store.get(path) });
  }

  // --- domains -------------------------------------------------------------------------------------

  /** True once `domid` was introduced (Dom0 always is). */
  isIntroduced(domid: number): boolean {
    return this.domains.has(domid);
  }

  /** @internal INTRODUCE accepted (or the host introducing a domain itself): fires @introduceDomain. */
  addDomain(domid: number, gfn: number, port: number): void {
    this.domains.set(domid, { gfn, port, shutdown: false });
    this.fireSpecial('@introduceDomain');
  }

  /**
   * XS_INTRODUCE from Dom0: attaches the ring through the transport hook and fires @introduceDomain; a
   * second INTRODUCE with the same ring re-binds the event channel (another ring: EINVAL).
   */
  introduceDomain(domid: number, gfn: number, port: number): void {
    if (port <= 0) throw new XsError('EINVAL', 'port');
    const known = this.domains.get(domid);
    if (known) {
      if (known.gfn !== gfn) throw new XsError('EINVAL', `dom${domid} already introduced`);
      callHook(() => this.hooks?.introduce(domid, gfn, port));
      return;
    }
    callHook(() => this.hooks?.introduce(domid, gfn, port));
    this.addDomain(domid, gfn, port);
  }

  /** XS_RELEASE from Dom0: detaches the ring, forgets the domain, fires @releaseDomain. */
  releaseDomain(domid: number): void {
    if (domid === 0) throw new XsError('EINVAL');
    if (!this.isIntroduced(domid)) throw new XsError('ENOENT');
    callHook(() => this.hooks?.release(domid));
    this.domainReleased(domid);
  }

  /** @internal The domain's INTRODUCE parameters. */
  domainInfo(domid: number): { gfn: number; port: number } | undefined {
    return this.domains.get(domid);
  }

  /** The host introduced `domid` without a message (e.g. a dom0less domain): fires @introduceDomain. */
  introduced(domid: number, gfn = 0, port = 0): void {
    this.addDomain(domid, gfn, port);
  }

  /** The domain shut down or crashed: fires @releaseDomain once until RESUME. */
  domainShutdown(domid: number): void {
    const d = this.domains.get(domid);
    if (!d || d.shutdown) return;
    d.shutdown = true;
    this.fireSpecial('@releaseDomain');
  }

  /** @internal RESUME: re-arms @releaseDomain. */
  resumeDomain(domid: number): void {
    const d = this.domains.get(domid);
    if (d) d.shutdown = false;
  }

  /** The domain is gone (destroyed, or RELEASE): drops its sessions' state, fires @releaseDomain. */
  domainReleased(domid: number): void {
    if (!this.domains.delete(domid)) return;
    this.targets.delete(domid);
    for (const s of this.sessionsOf.get(domid) ?? []) s.reset();
    this.fireSpecial('@releaseDomain');
  }

  // --- in-process API (acts as Dom0, outside transactions) -----------------------------------------

  private ctx(): OpContext {
    return { caller: DOM0, view: this.store, quotas: this.quotas };
  }

  /** The value at `path`, or undefined if absent. */
  read(path: string): Uint8Array | undefined {
    const v = this.store.get(path)?.value;
    return v === undefined ? undefined : new Uint8Array(Buffer.from(v, 'latin1'));
  }

  /** The value at `path` as text, or undefined. */
  readString(path: string): string | undefined {
    const v = this.store.get(path)?.value;
    return v === undefined ? undefined : Buffer.from(v, 'latin1').toString('utf8');
  }

  /** Writes (creating parents) and fires watches; a string is written as its UTF-8 bytes. */
  write(path: string, value: Uint8Array | string): void {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.fire(writeValue(this.ctx(), path, latin1(bytes, 0, bytes.length)));
  }

  /** Creates an empty node if absent. */
  mkdir(path: string): void {
    const c = makeDir(this.ctx(), path);
    if (c) this.fire(c);
  }

  /** Removes a subtree (no error if absent). */
  rm(path: string): void {
    if (!this.store.get(path)) return;
    const c = removeNode(this.ctx(), path);
    if (c) this.fire(c);
  }

  /** Child names of `path`, or undefined if absent. */
  directory(path: string): readonly string[] | undefined {
    return this.store.get(path)?.children.names();
  }

  /** Sets perms from strings (`n0`, `r5`...) or entries. */
  setPerms(path: string, perms: readonly string[] | readonly XsPerm[]): void {
    const list = typeof perms[0] === 'string' ? parsePerms(perms as string[]) : (perms as readonly XsPerm[]);
    if (!list || list.length === 0) throw new XsError('EINVAL', `bad perms for ${path}`);
    this.fire(opSetPerms(this.ctx(), path, list));
  }

  /** Perm strings of `path`. */
  getPerms(path: string): string[] {
    return opGetPerms(this.ctx(), path).map(formatPerm);
  }

  /** True when the node exists. */
  exists(path: string): boolean {
    try {
      getNode(this.ctx(), path, 0);
      return true;
    } catch {
      return false;
    }
  }
}
