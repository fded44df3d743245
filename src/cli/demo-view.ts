import { indent, paint, type Style } from './format.js';

/**
 * How `task-orchestrator demo` shows a step: the call an assistant makes and the text the server
 * replies, shortened so that each step fits on a screen or two (`--full` shows everything).
 */

/** Sections of a specialist prompt that are the role's standing description, the same for every subtask of that role. */
const ROLE_SECTIONS = ['Your expertise', 'Your approach'];

export interface ReplyView {
  full: boolean;
  /** Replies longer than this are cut, with a note saying how much was left out. */
  maxLines: number;
  /** Section bodies already shown in this run: a repeat is named, not printed again. */
  seen: Set<string>;
}

/** JSON on one line when it fits, else broken over lines level by level (a plan then reads one subtask a line). */
export function formatArgs(value: unknown, width = 100, margin = ''): string {
  const compact = JSON.stringify(value);
  if (compact.length + margin.length <= width || value === null || typeof value !== 'object') return compact;
  const inner = `${margin}  `;
  const entries = Array.isArray(value)
    ? value.map((item) => inner + formatArgs(item, width, inner))
    : Object.entries(value).map(([key, item]) => `${inner}${JSON.stringify(key)}: ${formatArgs(item, width, inner)}`);
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  return `${open}\n${entries.join(',\n')}\n${margin}${close}`;
}

/** A reply's text for people: the role's standing sections and repeated sections folded to their heading, then cut to maxLines. */
export function shortenReply(text: string, view: ReplyView): string {
  const lines = text.trimEnd().split('\n');
  if (view.full) return lines.join('\n');
  const folded = sectionsOf(lines).flatMap((section) => foldSection(section, view));
  while (folded.at(-1) === '') folded.pop();
  if (folded.length <= view.maxLines) return folded.join('\n');
  const left = folded.length - view.maxLines;
  return [...folded.slice(0, view.maxLines), `… ${left} more line${left === 1 ? '' : 's'} (--full shows everything)`].join('\n');
}

interface Section {
  heading: string | null;
  body: string[];
}

/** Splits Markdown text at its "## " headings; the text before the first heading has none. */
function sectionsOf(lines: string[]): Section[] {
  const sections: Section[] = [{ heading: null, body: [] }];
  for (const line of lines) {
    if (line.startsWith('## ')) sections.push({ heading: line, body: [] });
    else sections.at(-1)!.body.push(line);
  }
  return sections;
}

function foldSection(section: Section, view: ReplyView): string[] {
  if (section.heading === null) return section.body;
  const title = section.heading.slice(3);
  const content = section.body.filter((line) => line.trim() !== '');
  // Ids aside, "When you are done" is the same in every prompt: show it once.
  const key = `${title}\n${content.join('\n')}`.replace(/\btask_[0-9a-f]+(?:\.\d+)?/g, 'ID');
  const repeated = view.seen.has(key);
  view.seen.add(key);
  if (ROLE_SECTIONS.includes(title)) return [`${section.heading}  (${content.length} lines about the role, folded)`, ''];
  if (repeated && content.length > 1) return [`${section.heading}  (as in the prompt above)`, ''];
  return [section.heading, ...section.body];
}

/** The banner of one step: its number and what it shows. */
export function stepHeading(style: Style, number: number, total: number, title: string): string {
  const text = `── ${number}/${total}  ${title} `;
  return paint(style, 'bold', text.padEnd(Math.max(text.length + 3, 78), '─'));
}

/** "assistant calls <tool> <args>", then the server's reply, indented under it. */
export function showCall(style: Style, tool: string, args: object, reply: { isError: boolean; text: string }, view: ReplyView): string {
  const call = `${paint(style, 'cyan', 'assistant calls')} ${paint(style, 'bold', tool)} ${formatArgs(args, 100, '')}`;
  const answer = reply.isError ? paint(style, 'yellow', 'server refuses (isError: true; nothing changed):') : paint(style, 'green', 'server replies:');
  return `${call}\n${answer}\n${indent(shortenReply(reply.text, view))}`;
}
