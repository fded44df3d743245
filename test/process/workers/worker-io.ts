/**
 * Worker side of the conversation with the parent test, over stdin/stdout. Importing this module
 * starts reading stdin: import it from worker processes only, never from a test.
 */

import { readLines } from './lines.js';

const received: string[] = [];
const waiting = new Set<() => void>();
readLines(process.stdin, (lines) => {
  received.push(...lines);
  for (const wake of [...waiting]) wake();
});
// The parent test holds stdin open; when it goes (even killed), so does the worker: no orphans.
process.stdin.on('end', () => process.exit(70));

/** In a worker: waits for a line on stdin that is `word` or starts with `word `, and returns the rest of it. */
export function commandFromParent(word: string): Promise<string> {
  return new Promise((resolve) => {
    const check = () => {
      const index = received.findIndex((line) => line === word || line.startsWith(`${word} `));
      if (index < 0) return;
      const [line] = received.splice(index, 1);
      waiting.delete(check);
      resolve(line!.slice(word.length).trim());
    };
    waiting.add(check);
    check();
  });
}

/** In a worker: one line to the parent (stdout is a pipe, written synchronously on Linux). */
export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}
