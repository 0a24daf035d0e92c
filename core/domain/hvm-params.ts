/** A domain's HVM parameters: 64-bit values by HVM_PARAM_* index, with a change event. */
import { EventEmitter } from 'eventemitter3';
import type { HvmParams } from '../api/domain.js';
import { GuestError } from '../api/errors.js';
import { HVM_NR_PARAMS } from '../public/hvm.js';

export class HvmParamsImpl implements HvmParams {
  readonly events = new EventEmitter<{ changed: [index: number, value: bigint] }>();
  private readonly values: bigint[] = new Array<bigint>(HVM_NR_PARAMS).fill(0n);

  constructor(readonly domid: number) {}

  get(index: number): bigint {
    return this.values[this.check(index)]!;
  }

  set(index: number, value: bigint): void {
    this.values[this.check(index)] = BigInt.asUintN(64, value);
    this.events.emit('changed', index, this.values[index]!);
  }

  private check(index: number): number {
    if (!(Number.isInteger(index) && index >= 0 && index < HVM_NR_PARAMS)) throw new GuestError('EINVAL', `no HVM param ${index}`, { domid: this.domid });
    return index;
  }
}
