/** Child of crash.test.ts: writes the planned stream into each image given, flushing all every FLUSH_EVERY writes and saying so on stdout, until killed. */
import { writeSync } from 'node:fs';
import { ImageStore } from '../../../../plugins/dom0/disk-images/store.js';
import { FLUSH_EVERY, SLOTS, plannedWrite } from './crash-plan.js';

const paths = process.argv.slice(2);
if (paths.length === 0) throw new Error('usage: crash-writer <image>...');
const store = new ImageStore();
const disks = paths.map((path) => store.open(path));
for (let i = 0; i < SLOTS; i++) {
  const w = plannedWrite(i);
  for (const disk of disks) disk.write(w.offset, w.data);
  if ((i + 1) % FLUSH_EVERY === 0) {
    for (const disk of disks) disk.flush();
    writeSync(1, `${i + 1}\n`);
  }
}
writeSync(1, 'done\n');
