/** The guest's network stack: what drivers and shell commands import. */
export { NetStack, type IfAddressConfig, type NeighborInfo, type NetStackOptions, type PingOptions } from './stack.js';
export { NetIf, type Inet4Address, type Inet6Address } from './netif.js';
export { Datagram, UdpSocket } from './udp-socket.js';
export { NetError, type NetErrno } from './errors.js';
export { formatEchoReply, type EchoReply } from './echo.js';
export type { NetStats } from './stats.js';
export { emptyIfnetStats, type IfnetDriver, type IfnetStats } from './if.js';
export { formatIp4, formatIp6, parseIp, type Ip4Addr, type Ip6Addr, type IpAddr } from './addr.js';
export { formatMac, parseMac } from './ether.js';
