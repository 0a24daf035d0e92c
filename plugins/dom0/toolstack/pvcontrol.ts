/**
 * libxl's check for a guest's PV control interface (libxl__domain_pvcontrol_available) and xl's
 * fallback when there is none (xl_vmcontrol.c shutdown_domain / reboot_domain with `-F`): the ACPI
 * power-button trigger for a shutdown, the reset trigger for a reboot, sent through the device model.
 */
import { GuestError, type DeviceModelHost, type DeviceModelTrigger, type Domain, type ShutdownRequest } from '../../../core/api/index.js';
import { HVM_PARAM } from '../../../core/public/index.js';

/**
 * True unless `d` is an HVM guest (libxl's LIBXL_DOMAIN_TYPE_HVM: our hvm and pvhvm modes) whose
 * HVM_PARAM_CALLBACK_IRQ is 0, i.e. whose kernel never set up Xen's event-channel callback and so
 * runs no PV drivers that would see control/shutdown.
 */
export function pvcontrolAvailable(d: Domain): boolean {
  if (d.mode !== 'hvm' && d.mode !== 'pvhvm') return true;
  return d.hvmParams.get(HVM_PARAM.CALLBACK_IRQ) !== 0n;
}

/** The trigger xl falls back to for each request that has one (shutdown → power, reboot → reset). */
const FALLBACK: Partial<Record<ShutdownRequest, { trigger: DeviceModelTrigger; event: string; what: string }>> = {
  poweroff: { trigger: 'power', event: 'ACPI power button event', what: 'shutdown' },
  reboot: { trigger: 'reset', event: 'ACPI reset button event', what: 'reboot' },
};

/**
 * What xl does for a guest without PV control: without `force`, fails with its message; with it,
 * sends the trigger (returning the line xl prints). Requests with no ACPI equivalent always fail.
 */
export function pvcontrolFallback(d: Domain, request: ShutdownRequest, force: boolean, dm: DeviceModelHost | undefined): string {
  const fallback = FALLBACK[request];
  const domid = d.domid;
  if (fallback === undefined) {
    throw new GuestError('EOPNOTSUPP', `domain ${domid}: PV control interface not available: cannot ${request} it without PV drivers`, { domid });
  }
  if (!force) {
    const event = fallback.trigger === 'power' ? 'ACPI power event' : 'ACPI reset event';
    throw new GuestError('EOPNOTSUPP', `domain ${domid}: PV control interface not available: external graceful ${fallback.what} not possible. Use "-F" to fallback to ${event}.`, { domid });
  }
  if (dm === undefined) throw new GuestError('ESRCH', `domain ${domid}: PV control interface not available and no device model host to send the ${fallback.event} to`, { domid });
  dm.trigger(domid, fallback.trigger);
  return `domain ${domid}: PV control interface not available: sending ${fallback.event}.`;
}
