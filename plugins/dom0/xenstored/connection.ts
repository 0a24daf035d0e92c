/**
 * The seam between xenstored's protocol engine and its transports. A transport (Unix socket, a guest's
 * shared ring) makes an XsConnection per peer and feeds what it reads to the session the engine
 * returns; the engine writes replies and watch events back through the connection.
 */

/** One peer of xenstored, as the protocol engine sees it. */
export interface XsConnection {
  /** Unique per daemon, for logs and CONTROL output. */
  readonly id: number;
  /** The domain the peer acts as: 0 for socket clients (Dom0), the guest's domid for its ring. */
  readonly domid: number;
  /** A short description for logs: `socket 3`, `dom5 ring`. */
  readonly label: string;
  /** Sends bytes (whole messages) to the peer. Must not throw; a dead peer drops them. */
  write(bytes: Uint8Array): void;
  /** Ends the connection after a protocol violation (the reason is logged); the transport tears it down. */
  close(reason: string): void;
}

/** What a transport feeds: bytes as they arrive (any split), and the peer going away. */
export interface XsSession {
  /** Bytes read from the peer; may hold part of a message or several. */
  receive(bytes: Uint8Array): void;
  /** The peer is gone: drop its watches, transactions and pending output. */
  closed(): void;
}

/** Hooks the engine calls for messages that need a transport (the guest ring). */
export interface XsDomainHooks {
  /** XS_INTRODUCE accepted: attach the ring at `gfn` and bind `port` of `domid`. Throwing refuses it (the message fails with the error's errno name). */
  introduce(domid: number, gfn: number, port: number): void;
  /** XS_RELEASE or domain death: detach the domain's ring. */
  release(domid: number): void;
  /** True while `domid` is a live domain (XS_IS_DOMAIN_INTRODUCED, SET_TARGET checks). */
  domainExists?(domid: number): boolean;
}

// --- Added by the transports (socket.ts, ring.ts, index.ts, daemon.ts) --------------------------------

/** What the transports and the plugin need of the protocol engine (`XenstoreEngine` implements it). */
export interface XsEngineApi {
  /** A new peer: returns the session its bytes go to. */
  connect(conn: XsConnection): XsSession;
  /**
   * The domain is gone (it died before the toolstack released it): forget it and fire `@releaseDomain`,
   * as C xenstored's domain_cleanup does. Its ring connection is already closed.
   */
  domainReleased?(domid: number): void;
}

/** Largest payload of one message (`XENSTORE_PAYLOAD_MAX`); a peer sending a longer one is cut off. */
export const XS_PAYLOAD_MAX = 4096;
/** Size of `struct xsd_sockmsg`: type, req_id, tx_id, len (u32 little-endian each). */
export const XS_HEADER_SIZE = 16;
