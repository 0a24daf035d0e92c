/** The APIC bus: routes IPIs, IO-APIC redirections and MSIs to local APICs by destination, and carries EOI broadcasts. */
import { EventEmitter } from 'eventemitter3';
import { HardwareError } from '../api/errors.js';
import type { Engine } from '../engine/engine.js';
import {
  APIC_BROADCAST, APIC_DFR_CLUSTER, APIC_DFR_FLAT, DeliveryMode, DestShorthand, X2APIC_BROADCAST, type InterruptMessage,
} from './apic-defs.js';
import type { ApicBusPort, LocalApic } from './local-apic.js';

/** Events on the bus. */
export interface ApicBusEvents {
  /** A level-triggered vector was EOIed by some local APIC (IO-APICs listen). */
  eoi: [vector: number];
  /** An IPI left `source`'s ICR. */
  ipi: [source: LocalApic, message: InterruptMessage];
}

export interface ApicBusOptions {
  /** Needed only for a non-zero IPI latency. */
  engine?: Engine;
  /**
   * Virtual ns between an ICR write and the IPI's arrival; the sender's delivery-status bit is set
   * meanwhile. Default 0: IPIs arrive during the ICR write.
   */
  ipiLatencyNs?: number;
}

/** True when `apic` is addressed by `dest` in the given mode (SDM 11.6.2; Xen's `vlapic_match_dest`). */
export function matchesDestination(apic: LocalApic, dest: number, logical: boolean, x2apicFormat: boolean): boolean {
  const broadcast = x2apicFormat ? X2APIC_BROADCAST : APIC_BROADCAST;
  if (dest === broadcast) return true;
  if (!logical) return dest === apic.apicId;
  const ldr = apic.logicalId;
  if (apic.x2apicMode) return dest >>> 16 === ldr >>> 16 && (dest & ldr & 0xffff) !== 0;
  const logicalId = ldr >>> 24;
  const model = apic.destinationFormat >>> 28;
  if (model === APIC_DFR_FLAT) return (dest & logicalId) !== 0;
  if (model === APIC_DFR_CLUSTER) return dest >>> 4 === logicalId >>> 4 && (dest & logicalId & 0xf) !== 0;
  return false;
}

/**
 * The local APICs of one machine (the host, or one HVM domain's virtual platform) and the wires
 * between them. Delivery order, and the choice of a lowest-priority target, depend only on the
 * APICs' state and IDs, never on timing.
 */
export class ApicBus implements ApicBusPort {
  readonly events = new EventEmitter<ApicBusEvents>();
  private readonly members: LocalApic[] = [];
  private readonly engine: Engine | undefined;
  private readonly ipiLatencyNs: number;

  constructor(options: ApicBusOptions = {}) {
    this.engine = options.engine;
    this.ipiLatencyNs = options.ipiLatencyNs ?? 0;
    if (this.ipiLatencyNs > 0 && this.engine === undefined) throw new HardwareError('apic-bus', 'apic bus: an IPI latency needs the engine');
  }

  /** Attached APICs, in attach order. */
  get apics(): readonly LocalApic[] {
    return this.members;
  }

  /** Connects `apic`. Two APICs may not share an ID. */
  attach(apic: LocalApic): void {
    const clash = this.findById(apic.apicId);
    if (clash !== undefined) throw new HardwareError('apic-id', `apic bus: ${apic.name} has APIC ID ${apic.apicId}, already used by ${clash.name}`);
    this.members.push(apic);
    apic.connect(this);
  }

  detach(apic: LocalApic): void {
    const i = this.members.indexOf(apic);
    if (i < 0) return;
    this.members.splice(i, 1);
    apic.connect(undefined);
  }

  findById(apicId: number): LocalApic | undefined {
    return this.members.find((a) => a.apicId === apicId);
  }

  /** The APICs a message addresses, in attach order, before lowest-priority arbitration. */
  targets(message: InterruptMessage, source?: LocalApic): LocalApic[] {
    switch (message.shorthand ?? DestShorthand.None) {
      case DestShorthand.Self:
        return source !== undefined ? [source] : [];
      case DestShorthand.AllIncludingSelf:
        return [...this.members];
      case DestShorthand.AllExcludingSelf:
        return this.members.filter((a) => a !== source);
      default:
        return this.members.filter((a) => matchesDestination(a, message.dest, message.logical, message.x2apic ?? false));
    }
  }

  /** Delivers `message` at once; returns the APICs it reached. */
  deliver(message: InterruptMessage, source?: LocalApic): LocalApic[] {
    let targets = this.targets(message, source);
    if (message.deliveryMode === DeliveryMode.LowestPriority) {
      const chosen = lowestPriority(targets, message.vector);
      targets = chosen === undefined ? [] : [chosen];
    }
    for (const apic of targets) apic.accept(message);
    return targets;
  }

  /** An IPI from `source`'s ICR: delivered now, or after the configured latency. */
  sendIpi(source: LocalApic, message: InterruptMessage): void {
    this.events.emit('ipi', source, message);
    if (this.ipiLatencyNs <= 0 || this.engine === undefined) {
      this.deliver(message, source);
      return;
    }
    source.setIcrBusy(true);
    this.engine.after(this.ipiLatencyNs, () => {
      source.setIcrBusy(false);
      this.deliver(message, source);
    });
  }

  broadcastEoi(vector: number): void {
    this.events.emit('eoi', vector);
  }
}

/**
 * Lowest-priority arbitration among enabled targets: the focus processor (one already holding the
 * vector) if any, else the lowest processor priority, ties going to the lowest APIC ID.
 */
export function lowestPriority(targets: readonly LocalApic[], vector: number): LocalApic | undefined {
  const enabled = targets.filter((a) => a.enabled);
  const focus = enabled.find((a) => a.isFocusFor(vector));
  if (focus !== undefined) return focus;
  let best: LocalApic | undefined;
  for (const apic of enabled) {
    if (best === undefined || apic.ppr < best.ppr || (apic.ppr === best.ppr && apic.apicId < best.apicId)) best = apic;
  }
  return best;
}
