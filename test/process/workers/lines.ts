/** Splits a text stream into lines as they arrive; `onLines` gets each batch of complete lines. */
export function readLines(stream: NodeJS.ReadableStream, onLines: (lines: string[]) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    onLines(lines);
  });
}
