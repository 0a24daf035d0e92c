import { describe, expect, it } from 'vitest';
import { XsType, encodeMessage } from '../../../../plugins/dom0/xenstored/wire.js';
import { Client, newEngine } from './helpers.js';

const T = XsType;

describe('xenstored engine: replies byte for byte', () => {
  it('starts with /, /tool, /tool/xenstored', () => {
    const c = new Client(newEngine());
    expect(c.ask(T.DIRECTORY, '/\0')).toBe('tool\0');
    expect(c.ask(T.DIRECTORY, '/tool\0')).toBe('xenstored\0');
    expect(c.ask(T.DIRECTORY, '/tool/xenstored\0')).toBe('');
    expect(c.ask(T.GET_PERMS, '/\0')).toBe('n0\0');
  });
  it('WRITE creates parents, READ has no trailing NUL, replies echo req_id and tx_id', () => {
    const c = new Client(newEngine());
    const id = c.send(T.WRITE, '/a/b/c\0hello');
    expect(c.conn.take()).toEqual([{ type: T.WRITE, reqId: id, txId: 0, body: 'OK\0' }]);
    expect(c.read('/a/b/c')).toBe('hello');
    expect(c.read('/a/b')).toBe('');
    expect(c.ask(T.DIRECTORY, '/a\0')).toBe('b\0');
    expect(c.read('/nope')).toBe('ERR:ENOENT');
  });
  it('errors: ENOSYS for unknown types, EINVAL for bad paths and args, ERROR echoes ids', () => {
    const c = new Client(newEngine());
    for (const t of [15, 16, 20, 23, 0xffff]) expect(c.ask(t, 'x\0')).toBe('ERR:ENOSYS');
    for (const p of ['/a//b', '/a/', '', '/a b', '/a\0/b', '@foo']) expect(c.read(p)).toBe('ERR:EINVAL');
    expect(c.ask(T.READ, '/tool')).toBe('ERR:EINVAL');
    c.session.receive(encodeMessage(T.READ, 77, 0, '/x\0'));
    expect(c.conn.take()).toEqual([{ type: T.ERROR, reqId: 77, txId: 0, body: 'ENOENT\0' }]);
  });
  it('relative paths resolve under /local/domain/<domid>', () => {
    const e = newEngine();
    const c = new Client(e);
    expect(c.write('rel', 'v')).toBe('OK\0');
    expect(e.readString('/local/domain/0/rel')).toBe('v');
  });
  it('RM: recursive, OK if absent with parent, ENOENT without, EINVAL for /', () => {
    const c = new Client(newEngine());
    c.write('/a/b/c', '1');
    expect(c.ask(T.RM, '/a\0')).toBe('OK\0');
    expect(c.read('/a/b/c')).toBe('ERR:ENOENT');
    expect(c.ask(T.RM, '/a\0')).toBe('OK\0');
    expect(c.ask(T.RM, '/x/y\0')).toBe('ERR:ENOENT');
    expect(c.ask(T.RM, '/\0')).toBe('ERR:EINVAL');
    expect(c.ask(T.DIRECTORY, '/\0')).toBe('tool\0');
  });
  it('MKDIR, GET_DOMAIN_PATH, IS_DOMAIN_INTRODUCED, reply E2BIG', () => {
    const c = new Client(newEngine());
    expect(c.ask(T.MKDIR, '/m\0')).toBe('OK\0');
    expect(c.ask(T.MKDIR, '/m\0')).toBe('OK\0');
    expect(c.ask(T.GET_DOMAIN_PATH, '7\0')).toBe('/local/domain/7\0');
    expect(c.ask(T.IS_DOMAIN_INTRODUCED, '0\0')).toBe('T\0');
    expect(c.ask(T.IS_DOMAIN_INTRODUCED, '5\0')).toBe('F\0');
    for (let i = 0; i < 300; i++) c.write(`/big/child-with-a-long-name-${i}`, '');
    expect(c.ask(T.DIRECTORY, '/big\0')).toBe('ERR:E2BIG');
  });
  it('DIRECTORY_PART pages the child list and ends with an empty string', () => {
    const c = new Client(newEngine());
    for (let i = 0; i < 300; i++) c.write(`/big/child-with-a-long-name-${i}`, '');
    const names: string[] = [];
    let off = 0;
    for (;;) {
      const r = c.ask(T.DIRECTORY_PART, `/big\0${off}\0`);
      const parts = r.split('\0');
      const chunk = parts.slice(1, -1);
      off += chunk.filter((n) => n).reduce((a, n) => a + n.length + 1, 0);
      names.push(...chunk.filter((n) => n));
      if (r.endsWith('\0\0')) break;
    }
    expect(names).toHaveLength(300);
    expect(names[299]).toBe('child-with-a-long-name-299');
  });
});

describe('permissions', () => {
  it('guests own what they create, read per perms, EACCES vs ENOENT', () => {
    const e = newEngine();
    e.introduced(3); e.introduced(4);
    e.write('/local/domain/3', ''); e.setPerms('/local/domain/3', ['n3']);
    e.write('/secret/x', 's');
    const g3 = new Client(e, 3); const g4 = new Client(e, 4);
    expect(g3.write('data', 'v')).toBe('OK\0');
    expect(g3.ask(T.GET_PERMS, 'data\0')).toBe('n3\0');
    expect(g4.read('/local/domain/3/data')).toBe('ERR:EACCES');
    expect(g4.read('/local/domain/3/none')).toBe('ERR:EACCES');
    expect(g3.read('/local/domain/3/none')).toBe('ERR:ENOENT');
    expect(g3.read('/secret/x')).toBe('ERR:EACCES');
    expect(g3.write('/secret/y', 'v')).toBe('ERR:EACCES');
    expect(g3.ask(T.SET_PERMS, 'data\0n3\0r4\0')).toBe('OK\0');
    expect(g4.read('/local/domain/3/data')).toBe('v');
    expect(g4.write('/local/domain/3/data', 'w')).toBe('ERR:EACCES');
    expect(g3.ask(T.SET_PERMS, 'data\0n4\0')).toBe('ERR:EPERM');
    expect(g3.ask(T.SET_PERMS, 'data\0x3\0')).toBe('ERR:EINVAL');
    expect(g3.ask(T.SET_PERMS, 'data\0n3\0r1\0r2\0r4\0r5\0r6\0')).toBe('ERR:ENOSPC');
    expect(g3.ask(T.INTRODUCE, '9\x001\x002\0')).toBe('ERR:EACCES');
    expect(g3.ask(T.CONTROL, 'help\0')).toBe('ERR:EACCES');
  });
  it('SET_TARGET gives a domain its target\'s rights', () => {
    const e = newEngine();
    e.introduced(3); e.introduced(4);
    e.write('/local/domain/3/x', 'v'); e.setPerms('/local/domain/3/x', ['n3']);
    const dm = new Client(e, 4);
    expect(dm.read('/local/domain/3/x')).toBe('ERR:EACCES');
    expect(new Client(e).ask(T.SET_TARGET, '4\x003\0')).toBe('OK\0');
    expect(dm.read('/local/domain/3/x')).toBe('v');
    expect(new Client(e).ask(T.SET_TARGET, '4\x009\0')).toBe('ERR:ENOENT');
  });
});

describe('transactions', () => {
  it('isolation: own writes visible, others not until commit; tx_id echoed', () => {
    const e = newEngine();
    const a = new Client(e); const b = new Client(e);
    const tx = a.txStart();
    expect(tx).toBeGreaterThan(0);
    const msgs = a.call(T.WRITE, '/t/x\0one', tx);
    expect(msgs[0]).toMatchObject({ type: T.WRITE, txId: tx });
    expect(a.read('/t/x', tx)).toBe('one');
    expect(b.read('/t/x')).toBe('ERR:ENOENT');
    expect(a.ask(T.TRANSACTION_END, 'T\0', tx)).toBe('OK\0');
    expect(b.read('/t/x')).toBe('one');
  });
  it('EAGAIN when a node read (not written) changed; none for unrelated nodes', () => {
    const e = newEngine();
    const a = new Client(e); const b = new Client(e);
    a.write('/r', '1'); a.write('/u', '1');
    let tx = a.txStart();
    a.read('/r', tx); a.write('/w', 'x', tx);
    b.write('/u', '2');
    expect(a.ask(T.TRANSACTION_END, 'T\0', tx)).toBe('OK\0');
    tx = a.txStart();
    a.read('/r', tx); a.write('/w', 'y', tx);
    b.write('/r', '2');
    expect(a.ask(T.TRANSACTION_END, 'T\0', tx)).toBe('ERR:EAGAIN');
    expect(a.read('/w')).toBe('x');
    expect(a.ask(T.TRANSACTION_END, 'T\0', tx)).toBe('ERR:ENOENT');
  });
  it('EBUSY nested, ENOENT unknown id, EINVAL bad end arg, abort discards, quota ENOSPC', () => {
    const e = newEngine();
    e.introduced(5);
    const a = new Client(e);
    const tx = a.txStart();
    expect(a.ask(T.TRANSACTION_START, '\0', tx)).toBe('ERR:EBUSY');
    expect(a.read('/tool', 999)).toBe('ERR:ENOENT');
    expect(a.ask(T.TRANSACTION_END, 'X\0', tx)).toBe('ERR:EINVAL');
    a.write('/gone', 'x', tx);
    expect(a.ask(T.TRANSACTION_END, 'F\0', tx)).toBe('OK\0');
    expect(a.read('/gone')).toBe('ERR:ENOENT');
    const g = new Client(e, 5);
    for (let i = 0; i < 10; i++) g.txStart();
    expect(g.ask(T.TRANSACTION_START, '\0')).toBe('ERR:ENOSPC');
  });
});

describe('watches', () => {
  it('ack, then the initial event; events before the reply that caused them; rm of an ancestor', () => {
    const e = newEngine();
    const w = new Client(e);
    const msgs = w.call(T.WATCH, '/a/b\0tok\0');
    expect(msgs.map((m) => [m.type, m.body])).toEqual([[T.WATCH, 'OK\0'], [T.WATCH_EVENT, '/a/b\0tok\0']]);
    expect(w.ask(T.WATCH, '/a/b\0tok\0')).toBe('ERR:EEXIST');
    const m2 = w.call(T.WRITE, '/a/b/c\0v');
    expect(m2.map((m) => [m.type, m.body])).toEqual([[T.WATCH_EVENT, '/a/b/c\0tok\0'], [T.WRITE, 'OK\0']]);
    expect(w.call(T.WRITE, '/a/x\0v').map((m) => m.type)).toEqual([T.WRITE]);
    expect(w.call(T.RM, '/a\0').map((m) => [m.type, m.body])).toEqual([[T.WATCH_EVENT, '/a/b\0tok\0'], [T.RM, 'OK\0']]);
    expect(w.ask(T.UNWATCH, '/a/b\0tok\0')).toBe('OK\0');
    expect(w.ask(T.UNWATCH, '/a/b\0tok\0')).toBe('ERR:ENOENT');
  });
  it('relative watches give relative paths; transactions fire on commit only', () => {
    const e = newEngine();
    const w = new Client(e);
    w.call(T.WATCH, 'dev\0t\0');
    const tx = w.txStart();
    expect(w.call(T.WRITE, 'dev/x\0v', tx).map((m) => m.type)).toEqual([T.WRITE]);
    const m = w.call(T.TRANSACTION_END, 'T\0', tx);
    expect(m.map((x) => [x.type, x.body])).toEqual([[T.WATCH_EVENT, 'dev/x\0t\0'], [T.TRANSACTION_END, 'OK\0']]);
  });
  it('@introduceDomain / @releaseDomain reach privileged watchers and permitted guests only', () => {
    const e = newEngine();
    e.introduced(3); e.introduced(4);
    const d0 = new Client(e); const g3 = new Client(e, 3); const g4 = new Client(e, 4);
    for (const c of [d0, g3, g4]) c.call(T.WATCH, '@releaseDomain\0r\0');
    d0.ask(T.SET_PERMS, '@releaseDomain\0n0\0r3\0');
    e.domainReleased(4);
    expect(d0.conn.take().map((m) => m.body)).toEqual(['@releaseDomain\0r\0']);
    expect(g3.conn.take().map((m) => m.body)).toEqual(['@releaseDomain\0r\0']);
    expect(g4.conn.take()).toEqual([]);
    expect(d0.ask(T.INTRODUCE, '6\x0012\x003\0')).toBe('OK\0');
    expect(d0.ask(T.IS_DOMAIN_INTRODUCED, '6\0')).toBe('T\0');
    expect(d0.ask(T.RELEASE, '6\0')).toBe('OK\0');
    expect(d0.ask(T.RELEASE, '6\0')).toBe('ERR:ENOENT');
  });
  it('watch quota: 128 per unprivileged connection', () => {
    const e = newEngine(); e.introduced(3);
    const g = new Client(e, 3);
    for (let i = 0; i < 128; i++) expect(g.call(T.WATCH, `w${i}\0t\0`)[0]!.body).toBe('OK\0');
    expect(g.ask(T.WATCH, 'w999\0t\0')).toBe('ERR:ENOSPC');
  });
});

describe('quotas, control, robustness', () => {
  it('node count and node size quotas for guests', () => {
    const e = newEngine({ quotas: { nodes: 5 } }); e.introduced(3);
    e.write('/local/domain/3', ''); e.setPerms('/local/domain/3', ['n3']);
    const g = new Client(e, 3);
    for (let i = 0; i < 4; i++) expect(g.write(`n${i}`, '')).toBe('OK\0');
    expect(g.write('n9', '')).toBe('ERR:ENOSPC');
    expect(g.write('n0', 'x'.repeat(2100))).toBe('ERR:ENOSPC');
  });
  it('CONTROL print/check/help/quota; unknown → EINVAL', () => {
    const lines: string[] = [];
    const c = new Client(newEngine({ log: (l) => lines.push(l) }));
    expect(c.ask(T.CONTROL, 'print\0hello\0')).toBe('OK\0');
    expect(lines).toContain('control: hello');
    expect(c.ask(T.CONTROL, 'check\0')).toBe('OK\0');
    expect(c.ask(T.CONTROL, 'help\0')).toMatch(/^check/);
    expect(c.ask(T.CONTROL, 'quota\0nodes\0')).toBe('1000\0');
    expect(c.ask(T.CONTROL, 'quota\0nodes\u0000200\0')).toBe('OK\0');
    expect(c.ask(T.CONTROL, 'bogus\0')).toBe('ERR:EINVAL');
  });
  it('payload > 4096 closes the connection; a vanished client leaves no watches', () => {
    const e = newEngine();
    const c = new Client(e);
    c.call(T.WATCH, '/x\0t\0');
    const h = encodeMessage(T.WRITE, 1, 0, '').slice(0, 16);
    h[12] = 0x01; h[13] = 0x10; // 4097
    c.session.receive(h);
    expect(c.conn.closedWith).toMatch(/4097/);
    expect(e.watches.size).toBe(0);
    const d = new Client(e);
    d.session.receive(encodeMessage(T.WRITE, 1, 0, '/half\0v').slice(0, 10));
    d.session.closed();
    expect(e.connectionCount).toBe(0);
  });
  it('access log gets id label type path', () => {
    const log: string[] = [];
    const c = new Client(newEngine({ accessLog: (a) => log.push(`${a.id} ${a.label} ${a.type} ${a.path}`) }));
    c.read('/tool');
    expect(log[0]).toBe(`${c.conn.id} ${c.conn.label} READ /tool`);
  });
});

describe('transaction snapshot (test-xenstore "ta err")', () => {
  it('a node read in a transaction keeps its first-read value; commit then fails EAGAIN', () => {
    const e = newEngine();
    const a = new Client(e); const b = new Client(e);
    a.write('/p', 'a');
    const tx = a.txStart();
    expect(a.read('/p', tx)).toBe('a');
    b.write('/p', 'b');
    expect(a.read('/p', tx)).toBe('a');
    expect(a.write('/p', 'c', tx)).toBe('OK\0');
    expect(a.read('/p', tx)).toBe('c');
    expect(a.ask(T.TRANSACTION_END, 'T\0', tx)).toBe('ERR:EAGAIN');
    expect(a.read('/p')).toBe('b');
  });
});
