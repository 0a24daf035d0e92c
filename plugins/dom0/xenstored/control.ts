/** XS_CONTROL commands: print, quota, check, help (unknown → EINVAL). */
import type { XenstoreEngine } from './engine.js';
import type { XsQuotas } from './quota.js';
import { XsError } from './wire.js';

const HELP: Record<string, string> = {
  check: 'check the store\'s consistency',
  help: 'this list',
  print: 'print <string>: write <string> to the log',
  quota: 'quota [<name> [<value>] | <domid>]: show or set quotas, or show a domain\'s usage',
};

/** Runs a CONTROL command (`args[0]` = command); returns the reply text (sent NUL-terminated). */
export function runControl(engine: XenstoreEngine, args: readonly string[]): string {
  const [cmd, ...rest] = args;
  switch (cmd) {
    case 'print':
      if (rest.length !== 1) throw new XsError('EINVAL');
      engine.log(`control: ${rest[0]}`);
      return 'OK';
    case 'check': {
      const problems = engine.store.check();
      for (const p of problems) engine.log(`check_store: ${p}`);
      return problems.length === 0 ? 'OK' : problems.join('\n');
    }
    case 'help':
      return Object.entries(HELP).map(([k, v]) => `${k.padEnd(8)}${v}`).join('\n') + '\n';
    case 'quota':
      return quota(engine, rest);
    default:
      throw new XsError('EINVAL', `unknown control command ${cmd ?? ''}`);
  }
}

function quota(engine: XenstoreEngine, args: readonly string[]): string {
  const q = engine.quotas;
  const names = Object.keys(q) as Array<keyof XsQuotas>;
  if (args.length === 0) return names.map((n) => `${n.padEnd(18)}: ${q[n]}`).join('\n') + '\n';
  const [what, value] = args;
  if (args.length === 1 && /^\d+$/.test(what!)) {
    const domid = Number(what);
    return `nodes             : ${engine.store.ownedBy(domid)}\n`;
  }
  const name = names.find((n) => n === what);
  if (!name) throw new XsError('EINVAL', `unknown quota ${what}`);
  if (args.length === 1) return `${q[name]}`;
  if (args.length !== 2 || !/^\d+$/.test(value!)) throw new XsError('EINVAL');
  q[name] = Number(value);
  return 'OK';
}
