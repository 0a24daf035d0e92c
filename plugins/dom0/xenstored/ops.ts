/** Node operations as C xenstored performs them (permissions, inheritance, quotas) over a NodeView. */
import { PERM_OWNER, PERM_READ, PERM_WRITE, type XsCaller, type XsPerm, permFor } from './permissions.js';
import { baseName, childPath, parentOf } from './paths.js';
import type { XsQuotas } from './quota.js';
import { nodeRecordSize } from './quota.js';
import { Children } from './children.js';
import type { NodeView, XsNode } from './store.js';
import type { XsChange } from './transaction.js';
import { XsError } from './wire.js';

/** Everything an operation needs: who asks, what it sees, and the limits. */
export interface OpContext {
  readonly caller: XsCaller;
  readonly view: NodeView;
  readonly quotas: XsQuotas;
}

const EMPTY = '';

/** C's get_node: the node if the caller has `perm`; else EACCES, or ENOENT unless the nearest ancestor hides it. */
export function getNode(ctx: OpContext, path: string, perm: number): XsNode {
  const node = ctx.view.get(path);
  if (node) {
    if ((permFor(ctx.caller, node.perms) & perm) === perm) return node;
    throw new XsError('EACCES', path);
  }
  throw new XsError(errnoFromParents(ctx, path, perm), path);
}

function errnoFromParents(ctx: OpContext, path: string, perm: number): 'ENOENT' | 'EACCES' {
  let p = path;
  let node: XsNode | undefined;
  do {
    p = parentOf(p);
    node = ctx.view.get(p);
  } while (!node && p !== '/');
  const parentPerm = node ? permFor(ctx.caller, node.perms) : 0;
  return parentPerm & perm ? 'ENOENT' : 'EACCES';
}

function checkSize(ctx: OpContext, node: XsNode): void {
  if (ctx.caller.privileged) return;
  if (nodeRecordSize(node.perms.length, node.value.length, node.children.byteLen) >= ctx.quotas.nodeSize) {
    throw new XsError('ENOSPC', 'node size');
  }
}

/** C's construct_node + create_node: makes `path` and any missing parents; perms inherited, creator owns. Returns the new node. */
function createNode(ctx: OpContext, path: string, value: string): XsNode {
  const missing: string[] = [path];
  let parentPath = parentOf(path);
  let parent = ctx.view.get(parentPath);
  while (!parent) {
    missing.push(parentPath);
    parentPath = parentOf(parentPath);
    parent = ctx.view.get(parentPath);
  }
  const top = parent;
  const created: Array<[string, XsNode]> = [];
  for (let i = missing.length - 1; i >= 0; i--) {
    const p = missing[i]!;
    let perms: readonly XsPerm[] = parent.perms;
    if (!ctx.caller.privileged) {
      perms = [{ domid: ctx.caller.domid, access: perms[0]?.access ?? 0 }, ...perms.slice(1)];
      if (ctx.view.ownedBy(ctx.caller.domid) + created.length >= ctx.quotas.nodes) throw new XsError('ENOSPC', 'nodes');
    }
    const node: XsNode = { value: i === 0 ? value : EMPTY, perms, children: Children.EMPTY, gen: 0 };
    checkSize(ctx, node);
    created.push([p, node]);
    parent = node;
  }
  // Nothing is stored until every check passed.
  const first = created[0]!;
  const newTop: XsNode = { value: top.value, perms: top.perms, children: top.children.with(baseName(first[0])), gen: 0 };
  checkSize(ctx, newTop);
  for (let i = 0; i < created.length - 1; i++) {
    const [p, n] = created[i]!;
    created[i] = [p, { ...n, children: Children.EMPTY.with(baseName(created[i + 1]![0])) }];
  }
  ctx.view.put(parentPath, newTop);
  for (const [p, n] of created) ctx.view.put(p, n);
  return created[created.length - 1]![1];
}

/** READ: the value (its bytes, one char per byte). */
export function readValue(ctx: OpContext, path: string): string {
  return getNode(ctx, path, PERM_READ).value;
}

/** WRITE: sets the value (its bytes, one char per byte), creating the node and missing parents. */
export function writeValue(ctx: OpContext, path: string, value: string): XsChange {
  const node = ctx.view.get(path);
  if (node) {
    if (!(permFor(ctx.caller, node.perms) & PERM_WRITE)) throw new XsError('EACCES', path);
    const next: XsNode = { value, perms: node.perms, children: node.children, gen: 0 };
    checkSize(ctx, next);
    ctx.view.put(path, next);
    return { path, recurse: false, node: next };
  }
  if (!ctx.caller.privileged && errnoFromParents(ctx, path, PERM_WRITE) === 'EACCES') throw new XsError('EACCES', path);
  return { path, recurse: false, node: createNode(ctx, path, value) };
}

/** MKDIR: creates an empty node; a no-op (null: nothing to fire) if it exists and is writable. */
export function makeDir(ctx: OpContext, path: string): XsChange | null {
  const node = ctx.view.get(path);
  if (node) {
    if ((permFor(ctx.caller, node.perms) & PERM_WRITE) !== PERM_WRITE) throw new XsError('EACCES', path);
    return null;
  }
  if (!ctx.caller.privileged && errnoFromParents(ctx, path, PERM_WRITE) === 'EACCES') throw new XsError('EACCES', path);
  return { path, recurse: false, node: createNode(ctx, path, EMPTY) };
}

/** RM: removes `path` and everything below; OK (null) if absent but its parent exists; `/` → EINVAL. */
export function removeNode(ctx: OpContext, path: string): XsChange | null {
  let node: XsNode;
  try {
    node = getNode(ctx, path, PERM_WRITE);
  } catch (e) {
    if (e instanceof XsError && e.errno === 'ENOENT' && ctx.view.get(parentOf(path))) return null;
    throw e;
  }
  if (path === '/') throw new XsError('EINVAL', 'cannot remove /');
  const stack = [path];
  while (stack.length > 0) {
    const p = stack.pop()!;
    const n = ctx.view.get(p);
    if (!n) continue;
    for (const c of n.children.names()) stack.push(childPath(p, c));
    ctx.view.del(p);
  }
  const parentPath = parentOf(path);
  const parent = ctx.view.get(parentPath);
  if (parent) {
    const name = baseName(path);
    ctx.view.put(parentPath, { value: parent.value, perms: parent.perms, children: parent.children.without(name), gen: 0 });
  }
  return { path, recurse: true, node };
}

/** GET_PERMS: the node's perm list. */
export function getPerms(ctx: OpContext, path: string): readonly XsPerm[] {
  return getNode(ctx, path, PERM_READ).perms;
}

/** SET_PERMS: needs write + owner; unprivileged callers may not change the owner (EPERM). */
export function setPerms(ctx: OpContext, path: string, perms: readonly XsPerm[]): XsChange {
  const node = getNode(ctx, path, PERM_WRITE | PERM_OWNER);
  if (!ctx.caller.privileged && perms[0]!.domid !== node.perms[0]?.domid) throw new XsError('EPERM', path);
  const next: XsNode = { value: node.value, perms, children: node.children, gen: 0 };
  if (!path.startsWith('@')) checkSize(ctx, next);
  ctx.view.put(path, next);
  return { path, recurse: false, node: next, oldPerms: node.perms };
}
