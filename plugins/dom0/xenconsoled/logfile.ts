/**
 * Guest console log files, as `xenconsoled --log=guest` keeps them: everything a domain writes to its
 * console appended to `<dir>/guest-<name>.log` (a serial console's output too), so a guest's last words
 * outlive the domain. Appended as read, so a killed host loses nothing already shown.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../core/api/index.js';
import { errorMessage } from './util.js';

export class GuestLogFiles {
  private made = false;
  /** Domains whose file failed: one warning each, then their output is not written. */
  private readonly failed = new Set<number>();

  constructor(
    readonly dir: string,
    private readonly name: (domid: number) => string | undefined,
    private readonly log: Logger,
  ) {}

  /** The file of `domid`'s console (by its name now). */
  pathOf(domid: number): string {
    return join(this.dir, `guest-${this.name(domid) ?? `dom${domid}`}.log`);
  }

  append(domid: number, bytes: Uint8Array): void {
    if (bytes.length === 0 || this.failed.has(domid)) return;
    try {
      if (!this.made) {
        mkdirSync(this.dir, { recursive: true });
        this.made = true;
      }
      appendFileSync(this.pathOf(domid), bytes);
    } catch (error) {
      this.failed.add(domid);
      this.log.warn(`dom${domid}: console log file ${this.pathOf(domid)}: ${errorMessage(error)}; not written any more`);
    }
  }

  /** The domain went: a new domain with its id starts afresh. */
  forget(domid: number): void {
    this.failed.delete(domid);
  }
}
