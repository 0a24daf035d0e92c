/**
 * The MC146818 real-time clock driver (FreeBSD's x86/isa/atrtc.c): reads the wall-clock time once at
 * boot through the index/data ports 0x70/0x71, waiting out an update in progress, decoding BCD and
 * 12-hour formats as register B says.
 */
import type { VcpuApi, VcpuRequest } from '../../../../../core/api/index.js';
import type { Driver } from '../../kern/bus.js';

type Gen<T = void> = Generator<VcpuRequest, T, unknown>;

export const IO_RTC = 0x70;
/** Registers (mc146818reg.h). */
export const MC_SEC = 0x00;
export const MC_MIN = 0x02;
export const MC_HOUR = 0x04;
export const MC_DOM = 0x07;
export const MC_MONTH = 0x08;
export const MC_YEAR = 0x09;
export const MC_REGA = 0x0a;
export const MC_REGB = 0x0b;
export const MC_REGD = 0x0d;
export const MC_CENTURY = 0x32;
export const MC_REGA_UIP = 0x80;
export const MC_REGB_BINARY = 0x04;
export const MC_REGB_24HR = 0x02;
export const MC_REGD_VRT = 0x80;
/** Polls of UIP before the clock is called broken. */
const UIP_POLLS = 10_000;

function* rtcin(v: VcpuApi, reg: number): Gen<number> {
  yield* v.outPort(IO_RTC, 1, reg);
  return yield* v.inPort(IO_RTC + 1, 1);
}

function bcd(n: number): number {
  return (n >> 4) * 10 + (n & 0xf);
}

/** atrtc_gettime: the RTC's time as seconds since the Unix epoch (UTC). */
export function* atrtcGetTime(v: VcpuApi): Gen<number> {
  if (((yield* rtcin(v, MC_REGD)) & MC_REGD_VRT) === 0) throw new Error('atrtc: battery failure (VRT clear), time not valid');
  let polls = 0;
  while ((yield* rtcin(v, MC_REGA)) & MC_REGA_UIP) if (++polls >= UIP_POLLS) throw new Error('atrtc: update in progress never ends');
  const regb = yield* rtcin(v, MC_REGB);
  const dec = (x: number): number => (regb & MC_REGB_BINARY ? x : bcd(x));
  const sec = dec(yield* rtcin(v, MC_SEC));
  const min = dec(yield* rtcin(v, MC_MIN));
  const rawHour = yield* rtcin(v, MC_HOUR);
  let hour = dec(rawHour & 0x7f);
  if ((regb & MC_REGB_24HR) === 0) hour = (hour % 12) + (rawHour & 0x80 ? 12 : 0);
  const day = dec(yield* rtcin(v, MC_DOM));
  const month = dec(yield* rtcin(v, MC_MONTH));
  const year = dec(yield* rtcin(v, MC_YEAR)) + 100 * dec(yield* rtcin(v, MC_CENTURY));
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59) {
    throw new Error(`atrtc: invalid time ${year}-${month}-${day} ${hour}:${min}:${sec}`);
  }
  return Date.UTC(year, month - 1, day, hour, min, sec) / 1000;
}

/** atrtc0 on isa0: prints the time it read ("Setting date"); a bad clock is reported, not fatal. */
export function atrtcDriver(onTime?: (epochSeconds: number) => void): Driver {
  return {
    name: 'atrtc',
    description: 'AT realtime clock',
    *attach(k, dev) {
      k.printf(`${dev.nameunit}: at port 0x70-0x71 irq 8 on ${dev.parent?.nameunit ?? 'isa0'}`);
      try {
        const t = yield* atrtcGetTime(k.v);
        k.printf(`${dev.nameunit}: Setting date to ${new Date(t * 1000).toISOString().replace('.000Z', 'Z')}`);
        onTime?.(t);
      } catch (error) {
        k.printf(`${dev.nameunit}: ${(error as Error).message}`);
      }
    },
  };
}
