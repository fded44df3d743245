/**
 * Appends to a shared log with a small rotation bound, to show that several processes rotating one
 * log keep it bounded and can all still write. Arguments: <logs dir> <max bytes> <lines> <name>.
 * On "go": writes the lines and prints "written"; on "final": writes one last line and prints "done".
 */
import { FileLogger } from '../../../src/logging/logger.js';
import { commandFromParent, say } from './worker-io.js';

const [logsDir, maxBytes, lines, name] = process.argv.slice(2);
const logger = new FileLogger({ stderr: false, maxBytes: Number(maxBytes), files: 3 });
logger.attach(logsDir!);
say('ready');
await commandFromParent('go');
for (let i = 0; i < Number(lines); i++) logger.info(`${name} line ${i} ${'x'.repeat(i % 50)}`);
say('written');
await commandFromParent('final');
logger.info(`${name} final line`);
await logger.close();
say('done');
process.exit(0);
