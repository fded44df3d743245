import { escapeControlChars } from '../domain/control-chars.js';

/**
 * Terminal output for people: colour and bars only on a terminal. NO_COLOR (any value) turns colour
 * off; FORCE_COLOR (anything but "0") turns the rich output on where there is no terminal (for tests
 * and pagers such as `less -R`).
 */
export interface Style {
  /** A terminal (or FORCE_COLOR): draw bars and symbols. */
  rich: boolean;
  /** Colour escapes allowed. */
  color: boolean;
}

export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0';
  const rich = stream.isTTY === true || forced;
  return { rich, color: rich && !env.NO_COLOR };
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1, dim: 2 } as const;
export type Paint = keyof typeof CODES;

export function paint(style: Style, kind: Paint, text: string): string {
  return style.color ? `\u001b[${CODES[kind]}m${text}\u001b[0m` : text;
}

/** "[██████░░░░]" on a terminal; empty otherwise (the caller prints the numbers either way). */
export function progressBar(style: Style, fraction: number, width = 20): string {
  if (!style.rich) return '';
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  const part = (kind: Paint, text: string) => (text ? paint(style, kind, text) : '');
  return `[${part('green', '█'.repeat(filled))}${part('gray', '░'.repeat(width - filled))}]`;
}

export function percent(done: number, total: number): string {
  return total === 0 ? '0%' : `${Math.round((done / total) * 100)}%`;
}

/** The colour of a subtask status in listings. */
export const STATUS_PAINT: Record<string, Paint> = { pending: 'gray', active: 'cyan', completed: 'green', blocked: 'yellow', failed: 'red' };

/** A symbol for a line, or a bracketed word where symbols would be lost (logs, pipes). */
export function mark(style: Style, kind: 'ok' | 'problem' | 'note' | 'fixed'): string {
  const symbols = { ok: ['✓', 'green', 'ok'], problem: ['✗', 'red', 'problem'], note: ['•', 'blue', 'note'], fixed: ['✓', 'green', 'fixed'] } as const;
  const [symbol, colour, word] = symbols[kind];
  return style.rich ? paint(style, colour, symbol) : `[${word}]`;
}

export function indent(text: string, by = '    '): string {
  return text
    .split('\n')
    .map((line) => (line ? by + line : line))
    .join('\n');
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Text from task files, role files, configuration files and paths, made safe to print for people:
 * every control character (ESC, carriage return, ...) becomes a visible escape such as \u001b, so
 * a title cannot clear the screen, write the clipboard (OSC 52) or overwrite a line. Newlines stay,
 * for results and descriptions shown on several lines. Takes a string or a whole report (every string
 * in it, copied): apply it to the values before they are formatted, never to the formatted text,
 * whose colours are the program's own.
 */
export function printable<T>(value: T): T {
  if (typeof value === 'string') return escapeControlChars(value, { multiline: true }) as T;
  if (Array.isArray(value)) return value.map(printable) as T;
  if (value !== null && typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, printable(v)])) as T;
  }
  return value;
}
