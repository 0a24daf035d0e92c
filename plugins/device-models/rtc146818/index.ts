/** The rtc146818 plugin's manifest: the MC146818 real-time clock and CMOS of HVM guests. */
import { DeviceModel, DomainRegistry, NoOptions, definePlugin, type PluginContext } from '../../../core/api/index.js';
import { SharedInfo } from '../../../core/public/index.js';
import { Rtc146818 } from './rtc.js';

export { Rtc146818, RTC_REG, REG_A, REG_B, REG_C } from './rtc.js';
export { CMOS, initCmos } from './cmos.js';

/** The core's default boot epoch (2026-01-01T00:00:00Z), when Dom0's shared_info cannot be read. */
export const DEFAULT_EPOCH_NS = 1_767_225_600_000_000_000n;

/**
 * The wallclock at system time 0 as Dom0 sees it in its shared_info (wc_sec_hi:wc_sec, wc_nsec) — what
 * QEMU's `time()` in Dom0 reads, so the guest's RTC starts at the host's date.
 */
export function dom0Epoch(ctx: Pick<PluginContext, 'resolve'>): bigint {
  try {
    const view = ctx.resolve(DomainRegistry).lookup(0).sharedInfo.view;
    const sec = (BigInt(view.getUint32(SharedInfo.wcSecHi, true)) << 32n) | BigInt(view.getUint32(SharedInfo.wcSec, true));
    const ns = sec * 1_000_000_000n + BigInt(view.getUint32(SharedInfo.wcNsec, true));
    return ns === 0n ? DEFAULT_EPOCH_NS : ns;
  } catch {
    return DEFAULT_EPOCH_NS;
  }
}

/** The `rtc146818` device model for guests whose epoch `epoch()` gives. */
export function rtc146818Model(epoch: () => bigint): DeviceModel {
  return {
    name: 'rtc146818',
    wanted: (_config, mode) => mode === 'hvm' || mode === 'pvhvm',
    create: (ctx) => new Rtc146818(ctx, epoch()),
  };
}

/** The `rtc146818` plugin. */
export default definePlugin({
  name: 'rtc146818',
  version: '0.1.0',
  kind: 'device-model',
  engine: '^0.1.0',
  description: 'MC146818 RTC and CMOS for HVM guests: ports 0x70/0x71, IRQ 8, the host wallclock plus virtual time',
  provides: ['EMU_RTC'],
  requires: ['DEVICE_MODEL'],
  configSchema: NoOptions,
  register(ctx) {
    ctx.provide(DeviceModel, rtc146818Model(() => dom0Epoch(ctx)));
  },
});
