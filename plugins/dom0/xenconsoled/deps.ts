/** What the console daemon is made from: every dependency explicit, so tests can hand it fakes. */
import type { Dom0Tasks, DomainRegistry, Engine, EventChannels, Logger, XenstoreClient } from '../../../core/api/index.js';

/** What the `ConsoleDaemon` is made from. */
export interface ConsoleDaemonDeps {
  xenstore: XenstoreClient;
  evtchn: EventChannels;
  domains: DomainRegistry;
  tasks: Dom0Tasks;
  /** Socket input enters the simulation through `external`, at the current virtual time. */
  engine: Pick<Engine, 'external'>;
  /** Folder of the `<domid>.sock` sockets. */
  socketDir: string;
  log: Logger;
  /** Bytes of output kept per domain (default 1 MiB). */
  logLimit?: number;
  /** Bytes of input waiting for room in a ring (default 64 KiB). */
  inputLimit?: number;
  /** Bytes queued for one socket client before its output is discarded (default 1 MiB). */
  clientBufferLimit?: number;
  /** Folder of the guest log files (`guest-<name>.log`), as `xenconsoled --log=guest`; none when unset. */
  logDir?: string;
}
