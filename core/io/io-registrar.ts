/** The narrow I/O registrar a device model gets: its domain's port and MMIO buses, claimed under its name. */
import type { IoHandler, IoRegistrar, IoRegistration, MmioHandler } from '../api/io.js';
import type { GuestPhysAddr, IoPort } from '../public/types.js';
import type { IoBus } from './io-bus.js';
import type { MmioBus } from './mmio-bus.js';

/**
 * A registrar that claims ranges on `io` and `mmio` in `owner`'s name and remembers them, so that
 * `releaseAll()` frees everything the device claimed (when it is unplugged or fails to start).
 */
export class OwnedIoRegistrar implements IoRegistrar {
  private readonly claimed = new Set<IoRegistration>();

  constructor(
    private readonly io: IoBus,
    private readonly mmio: MmioBus<GuestPhysAddr>,
    readonly owner: string,
  ) {}

  registerPorts(base: IoPort, count: number, handler: IoHandler): IoRegistration {
    return this.track(this.io.register(base, count, handler, this.owner));
  }

  registerMmio(base: GuestPhysAddr, length: number, handler: MmioHandler): IoRegistration {
    return this.track(this.mmio.register(base, length, handler, this.owner));
  }

  /** Ranges this registrar still holds. */
  get registrations(): readonly IoRegistration[] {
    return [...this.claimed].filter((r) => r.active);
  }

  /** Releases every range claimed through this registrar. */
  releaseAll(): void {
    for (const r of this.claimed) r.dispose();
    this.claimed.clear();
  }

  private track(registration: IoRegistration): IoRegistration {
    this.claimed.add(registration);
    return registration;
  }
}

/** Makes the registrar handed to the device model `owner`. */
export function createIoRegistrar(io: IoBus, mmio: MmioBus<GuestPhysAddr>, owner: string): OwnedIoRegistrar {
  return new OwnedIoRegistrar(io, mmio, owner);
}
