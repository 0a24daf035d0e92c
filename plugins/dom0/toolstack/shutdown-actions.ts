/**
 * What happens to a domain once it has shut down (SCHEDOP_shutdown, a crash, the watchdog): xl's
 * handle_domain_death. The config's on_poweroff / on_reboot / on_crash / on_watchdog / on_soft_reset
 * picks the action — preserve, destroy, restart, rename-restart, coredump-destroy, coredump-restart
 * (a core dump to `<dump dir>/<name>`, as xl's XEN_DUMP_DIR, then destroy or restart) or soft-reset
 * (a restart here, with a warning).
 */
import { join } from 'node:path';
import type { Domain, DomainAction, DomainConfig, Logger, ShutdownHandled, Toolstack } from '../../../core/api/index.js';

const ACTION_OF: Record<string, (c: DomainConfig) => DomainAction> = {
  poweroff: (c) => c.onPoweroff,
  reboot: (c) => c.onReboot,
  crash: (c) => c.onCrash,
  watchdog: (c) => c.onWatchdog,
  soft_reset: (c) => c.onSoftReset,
};

/** What the actions need: the toolstack's own operations, where dumps go, and who hears the outcome. */
export interface ShutdownActionDeps {
  readonly toolstack: Pick<Toolstack, 'get' | 'create' | 'destroy' | 'rename' | 'dumpCore'>;
  readonly log: Logger;
  readonly dumpDir: string;
  /** Called once the action is done (for a restart: with the new domain's id). */
  done(handled: ShutdownHandled): void;
}

export class ShutdownActions {
  constructor(private readonly deps: ShutdownActionDeps) {}

  /** Carries out the action for `d`, which has just shut down; a domain the toolstack did not build is left alone. */
  handle(d: Domain): void {
    const { toolstack, log } = this.deps;
    const record = toolstack.get(d.domid);
    if (record === undefined) return;
    const reason = d.shutdownReason ?? 'poweroff';
    const action = ACTION_OF[reason]?.(record.config) ?? 'preserve';
    const handled: ShutdownHandled = { domid: d.domid, name: record.name, reason, action };
    log.info(`domain ${d.domid} (${record.name}) shut down: ${reason}; action ${action}`);
    const destroy = (): void => toolstack.destroy(d.domid).onSettled(() => this.deps.done(handled));
    switch (action) {
      case 'preserve':
        this.deps.done(handled);
        return;
      case 'destroy':
        destroy();
        return;
      case 'coredump-destroy':
        this.coreDumpThen(d.domid, record.name, destroy);
        return;
      case 'coredump-restart':
        this.coreDumpThen(d.domid, record.name, () => this.restart(d.domid, 'restart', handled));
        return;
      case 'restart':
      case 'soft-reset':
      case 'rename-restart':
        this.restart(d.domid, action, handled);
        return;
    }
  }

  /** The coredump-* actions: dump (a failure is logged, as xl's is), then go on. */
  private coreDumpThen(domid: number, name: string, then: () => void): void {
    const file = join(this.deps.dumpDir, name);
    this.deps.log.info(`dumping core to ${file}`);
    this.deps.toolstack.dumpCore(domid, file).onSettled((j) => {
      if (j.error) this.deps.log.error(`domain ${domid}: core dump failed: ${j.error.message}`);
      then();
    });
  }

  /** restart, soft-reset (a restart here) and rename-restart: the domain comes back from its config. */
  private restart(domid: number, action: 'restart' | 'soft-reset' | 'rename-restart', handled: ShutdownHandled): void {
    const { toolstack, log } = this.deps;
    const record = toolstack.get(domid)!;
    if (action === 'soft-reset') log.warn(`domain ${domid}: soft reset is not supported; restarting instead`);
    const config = record.config;
    const first = action === 'rename-restart' ? toolstack.rename(domid, `${record.name}-${domid}`) : toolstack.destroy(domid);
    first.onSettled(() => {
      // A restarted domain keeps its UUID, as xl's does; after rename-restart the old one still holds it.
      const again = toolstack.create(action === 'rename-restart' ? config : { ...config, uuid: record.uuid });
      again.onSettled((j) => {
        if (j.error) log.error(`${config.name}: restart failed: ${j.error.message}`);
        this.deps.done({ ...handled, ...(j.result ? { newDomid: j.result.domid } : {}) });
      });
    });
  }
}
