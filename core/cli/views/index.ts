/** Views of a running host in xl's and xentop's layouts: each a JSON-able snapshot and a renderer of it. */
export { XlError, LIBXL_ERROR_INVAL, findDomain, printBitmap, domainFlags, type DomainFlags } from './common.js';
export { xlListView, xlListRow, renderXlList, xlStateLetters, XL_LIST_HEADER, type XlListRow, type XlListSnapshot } from './list.js';
export { xlListLongView, renderXlListLong, yajlBeautify, type JsonValue, type XlListLongEntry, type XlListLongSnapshot } from './list-long.js';
export { xlVcpuListView, renderXlVcpuList, XL_VCPU_LIST_HEADER, type XlVcpuRow, type XlVcpuListSnapshot } from './vcpu-list.js';
export { xlUptimeView, renderXlUptime, uptimeToString, uptimeSeconds, type XlUptimeRow, type XlUptimeSnapshot } from './uptime.js';
export {
  xlSchedCreditView,
  renderXlSchedCredit,
  XL_SCHED_CREDIT_HEADER,
  type CreditPoolParams,
  type XlSchedCreditDomain,
  type XlSchedCreditPool,
  type XlSchedCreditSnapshot,
} from './sched-credit.js';
export { xlDmesgView, renderXlDmesg, type XlDmesgSnapshot } from './dmesg.js';
export { xlDomidView, xlDomnameView, renderXlDomid, renderXlDomname, type XlDomidSnapshot, type XlDomnameSnapshot } from './domid.js';
export { xentopSample, renderXentopFrame, renderXentopBatch, xentopState, type XentopDomain, type XentopSample, type XentopOptions } from './xentop.js';
export { xlBlockListView, xlNetworkListView, renderXlBlockList, renderXlNetworkList, type XlBlockRow, type XlNicRow } from './devices.js';
