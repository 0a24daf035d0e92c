/**
 * The child of the power-cut test: boots a host whose guest writes stamped sectors to its disk with a
 * flush every so often, and reports each "flushed through sector N" line on stdout at once — until the
 * test kills this process.
 */
import { writeSync } from 'node:fs';
import { Consoles, Toolstack } from '../../core/api/index.js';
import { runUntil } from '../plugins/guest/generic/helpers.js';
import { bootHost, loadDefinition } from './machine.js';

const [machine, guest, command] = process.argv.slice(2) as [string, string, string];
const { host } = await bootHost(await loadDefinition(machine));
const toolstack = host.plugins.resolveAll(Toolstack)[0]!;
const consoles = host.plugins.resolveAll(Consoles)[0]!;
runUntil(host, () => toolstack.find(guest) !== undefined && consoles.log(toolstack.find(guest)!.domid).includes('xbd0: features'), 10e9);
const domid = toolstack.find(guest)!.domid;
consoles.onOutput(domid, (text) => writeSync(1, text));
writeSync(1, 'READY\n');
consoles.input(domid, `${command}\r`);
for (;;) host.runFor(1e6);
