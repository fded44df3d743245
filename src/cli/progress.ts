import { escapeControlChars } from '../domain/control-chars.js';
import { percent, progressBar, styleFor } from './format.js';

/**
 * A progress bar redrawn in place on stderr while a long command runs; nothing at all when stderr is
 * not a terminal (logs and pipes get the summary at the end instead).
 */
export class LiveProgress {
  private readonly enabled: boolean;
  private lastDraw = 0;

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.enabled = stream.isTTY === true;
  }

  update(done: number, total: number, item = ''): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (done < total && now - this.lastDraw < 50) return;
    this.lastDraw = now;
    const style = styleFor(this.stream);
    const room = Math.max(0, (this.stream.columns ?? 80) - this.label.length - 50);
    this.stream.write(`\r\u001b[2K${this.label} ${progressBar(style, total ? done / total : 0, 30)} ${done}/${total} ${percent(done, total)} ${escapeControlChars(item).slice(0, room)}`);
  }

  done(): void {
    if (this.enabled && this.lastDraw) this.stream.write('\r\u001b[2K');
  }
}
