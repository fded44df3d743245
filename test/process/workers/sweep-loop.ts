/**
 * The start-up sweep of left-over temp files, over and over, as servers starting now and then would run
 * it: sweep-loop <dir>; prints "ready", sweeps until "stop", then prints "swept <rounds> <removed files>".
 */
import { layoutFor } from '../../../src/store/file/layout.js';
import { sweepTempFiles } from '../../../src/store/file/recovery.js';
import { commandFromParent, say } from './worker-io.js';

const [dir] = process.argv.slice(2);
if (!dir) throw new Error('usage: sweep-loop <dir>');
const layout = layoutFor(dir);
let stop = false;
void commandFromParent('stop').then(() => (stop = true));
say('ready');
const removed: string[] = [];
let rounds = 0;
while (!stop) {
  removed.push(...(await sweepTempFiles(layout)));
  rounds++;
  await new Promise((resolve) => setImmediate(resolve));
}
say(`swept ${rounds} ${removed.length}${removed.length ? ` ${removed.join(' ')}` : ''}`);
process.exit(0);
