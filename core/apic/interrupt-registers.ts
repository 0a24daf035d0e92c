/** A local APIC's interrupt state: the IRR/ISR/TMR bitmaps, TPR, and the priority rules over them (SDM 11.8). */

/** A 256-bit vector bitmap (IRR, ISR, TMR) as eight 32-bit words, the register layout. */
export class VectorBitmap {
  readonly words = new Uint32Array(8);

  has(vector: number): boolean {
    return (this.words[vector >>> 5]! & (1 << (vector & 31))) !== 0;
  }

  set(vector: number): void {
    this.words[vector >>> 5]! |= 1 << (vector & 31);
  }

  clear(vector: number): void {
    this.words[vector >>> 5]! &= ~(1 << (vector & 31));
  }

  /** The highest set vector, or -1 when empty. */
  highest(): number {
    for (let w = 7; w >= 0; w--) {
      const word = this.words[w]!;
      if (word !== 0) return w * 32 + 31 - Math.clz32(word);
    }
    return -1;
  }

  reset(): void {
    this.words.fill(0);
  }
}

/** Priority class of a vector or priority value: bits 7:4. */
export const priorityClass = (value: number): number => value & 0xf0;

/**
 * IRR, ISR, TMR and TPR, with the processor and arbitration priorities derived from them. Pure
 * state: the local APIC around it decides when to signal the CPU and where EOIs go.
 */
export class InterruptRegisters {
  readonly irr = new VectorBitmap();
  readonly isr = new VectorBitmap();
  readonly tmr = new VectorBitmap();
  /** The task-priority register. */
  tpr = 0;

  /** PPR (SDM 11.8.3.1): TPR if its class is at least the highest in-service class, else that class. */
  get ppr(): number {
    const isrv = Math.max(this.isr.highest(), 0);
    return priorityClass(this.tpr) >= priorityClass(isrv) ? this.tpr : priorityClass(isrv);
  }

  /** APR (SDM 11.6.2.4, P6 family rules). */
  get apr(): number {
    const isrv = Math.max(this.isr.highest(), 0);
    const irrv = Math.max(this.irr.highest(), 0);
    const tprClass = priorityClass(this.tpr);
    if (tprClass >= priorityClass(irrv) && tprClass > priorityClass(isrv)) return this.tpr;
    return Math.max(tprClass, priorityClass(isrv), priorityClass(irrv));
  }

  /** The highest requested vector whose class is above the PPR's class. */
  highestDeliverable(): number | undefined {
    const vector = this.irr.highest();
    return vector >= 0 && priorityClass(vector) > priorityClass(this.ppr) ? vector : undefined;
  }

  /** Requests `vector`, recording its trigger mode in TMR. */
  request(vector: number, level: boolean): void {
    this.irr.set(vector);
    if (level) this.tmr.set(vector);
    else this.tmr.clear(vector);
  }

  /** Moves `vector` from IRR to ISR (the CPU took it). */
  startService(vector: number): void {
    this.irr.clear(vector);
    this.isr.set(vector);
  }

  /** Clears the highest in-service vector; returns it and whether it was level-triggered, or `undefined`. */
  endService(): { vector: number; level: boolean } | undefined {
    const vector = this.isr.highest();
    if (vector < 0) return undefined;
    this.isr.clear(vector);
    return { vector, level: this.tmr.has(vector) };
  }

  reset(): void {
    this.irr.reset();
    this.isr.reset();
    this.tmr.reset();
    this.tpr = 0;
  }
}
