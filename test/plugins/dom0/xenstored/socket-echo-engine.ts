/** A stand-in protocol engine for transport tests: echoes whole messages, closes or throws on request. */
import type { XsConnection, XsEngineApi, XsSession } from '../../../../plugins/dom0/xenstored/connection.js';
import { decodeHeader } from '../../../../plugins/dom0/xenstored/wire.js';

/** Echoes every whole message; type 999 makes it close the peer, type 998 makes it throw. */
export class EchoEngine implements XsEngineApi {
  readonly conns: XsConnection[] = [];
  closed = 0;
  connect(conn: XsConnection): XsSession {
    this.conns.push(conn);
    let buf = new Uint8Array(0);
    return {
      receive: (bytes) => {
        const next = new Uint8Array(buf.length + bytes.length);
        next.set(buf);
        next.set(bytes, buf.length);
        buf = next;
        while (buf.length >= 16) {
          const h = decodeHeader(buf);
          if (buf.length < 16 + h.len) break;
          const msg = buf.slice(0, 16 + h.len);
          buf = buf.slice(16 + h.len);
          if (h.type === 999) return conn.close('garbage');
          if (h.type === 998) throw new Error('boom');
          conn.write(msg);
        }
      },
      closed: () => void this.closed++,
    };
  }
}

