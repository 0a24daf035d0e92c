/** Shared I/O rings (xen/include/public/io/ring.h) and the xenbus states of split drivers (io/xenbus.h). */

/** `struct X_sring` header: the four free-running u32 indexes, then padding to the first entry at 64. */
export const SringHeader = {
  /** u32, written by the frontend. */
  reqProd: 0,
  /** u32, written by the backend: notify it when req_prod passes this. */
  reqEvent: 4,
  /** u32, written by the backend. */
  rspProd: 8,
  /** u32, written by the frontend: notify it when rsp_prod passes this. */
  rspEvent: 12,
  /** u8 netif smartpoll_active / pad. */
  pvt: 16,
  /** Offset of `ring[0]`. */
  size: 64,
} as const;

/** `enum xenbus_state`. */
export const XenbusState = {
  Unknown: 0,
  Initialising: 1,
  /** Early init done, waiting for the peer or hotplug information. */
  InitWait: 2,
  /** Waiting for the peer to connect. */
  Initialised: 3,
  Connected: 4,
  /** The device is being closed down. */
  Closing: 5,
  Closed: 6,
  Reconfiguring: 7,
  Reconfigured: 8,
} as const;
export type XenbusStateValue = (typeof XenbusState)[keyof typeof XenbusState];

/** The state's name as xenbus_strstate prints it. */
export function xenbusStateName(state: number): string {
  return Object.entries(XenbusState).find(([, v]) => v === state)?.[0] ?? `invalid(${state})`;
}
