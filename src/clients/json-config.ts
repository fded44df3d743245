import { chmod, mkdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ClientTarget } from './client-config.js';
import { isCode, writeFileDurable } from '../store/file/durable-fs.js';

/**
 * Merging the server entry into a client's JSON configuration: every other key and server is kept
 * as it was; a file that cannot be read as JSON is reported and never overwritten.
 */
export interface WritablePlan {
  status: 'create' | 'add' | 'update' | 'unchanged';
  file: string;
  /** The whole file after the merge. */
  text: string;
  /** The file as it was read for the merge (null: it did not exist), to notice a change made meanwhile. */
  original: string | null;
  otherServers: string[];
}

export interface RefusedPlan {
  status: 'malformed' | 'has_comments';
  file: string;
  reason: string;
}

export type MergePlan = WritablePlan | RefusedPlan;

export function isRefused(plan: MergePlan): plan is RefusedPlan {
  return plan.status === 'malformed' || plan.status === 'has_comments';
}

/** Only where the entry goes matters here, not which client it is for. */
export async function planMerge(target: Pick<ClientTarget, 'file' | 'key' | 'name' | 'entry' | 'inputs'>): Promise<MergePlan> {
  const existing = await readIfExists(target.file);
  const inputs = target.inputs ? { inputs: target.inputs } : {};
  if (existing === null) return { status: 'create', file: target.file, text: render({ ...inputs, [target.key]: { [target.name]: target.entry } }), original: null, otherServers: [] };
  const parsed = parseConfig(existing, target.key);
  if (!parsed.ok) return { status: parsed.status, file: target.file, reason: parsed.reason };
  const config = parsed.value;
  if (target.inputs && config.inputs !== undefined && !Array.isArray(config.inputs)) return { status: 'malformed', file: target.file, reason: 'its "inputs" is not a JSON array' };
  const servers = (config[target.key] ?? {}) as Record<string, unknown>;
  const previous = servers[target.name];
  const entry = mergeEntry(previous, target.entry);
  const mergedInputs = target.inputs ? { inputs: mergeInputs(config.inputs as unknown[] | undefined, target.inputs) } : {};
  const same = JSON.stringify(previous) === JSON.stringify(entry) && (!target.inputs || JSON.stringify(config.inputs) === JSON.stringify(mergedInputs.inputs));
  const status = previous === undefined ? 'add' : same ? 'unchanged' : 'update';
  const next = { ...config, ...mergedInputs, [target.key]: { ...servers, [target.name]: entry } };
  return { status, file: target.file, text: render(next), original: existing, otherServers: Object.keys(servers).filter((n) => n !== target.name) };
}

/** The inputs with ours in place of any with the same id; the others kept, in their order. */
function mergeInputs(existing: unknown[] | undefined, ours: { id: string }[]): unknown[] {
  const ids = new Set(ours.map((i) => i.id));
  return [...(existing ?? []).filter((i) => !(isObject(i) && typeof i.id === 'string' && ids.has(i.id))), ...ours];
}

/**
 * Writes the merged file (creating its folder), atomically and durably. A symbolic link (dotfile
 * managers) is followed rather than replaced, and the file keeps its permissions (~/.claude.json is
 * often private).
 */
export async function applyMerge(plan: WritablePlan): Promise<void> {
  if (plan.status === 'unchanged') return;
  await mkdir(path.dirname(plan.file), { recursive: true });
  const file = await realpath(plan.file).catch(() => plan.file);
  // Clients rewrite their files (Claude Code, ~/.claude.json, often): never write over a change made since the read.
  if ((await readIfExists(file)) !== plan.original) throw new Error(`${plan.file} changed while it was being merged (its client probably rewrote it); nothing was written. Run the same setup command again.`);
  const mode = (await stat(file).catch(() => null))?.mode;
  await writeFileDurable(file, plan.text, undefined, mode === undefined ? undefined : mode & 0o7777);
  if (mode !== undefined) await chmod(file, mode & 0o7777); // exactly, whatever the umask
}

async function readIfExists(file: string): Promise<string | null> {
  return readFile(file, 'utf8').catch((error: unknown) => {
    if (isCode(error, 'ENOENT')) return null;
    throw error;
  });
}

/** What makes an entry start a local server, or reach one at a URL. */
const LOCAL_KEYS = ['command', 'args', 'env', 'cwd', 'envFile'];
const REMOTE_KEYS = ['url', 'serverUrl', 'headers'];

/**
 * Keeps what the user added to an existing entry (autoApprove, disabled, extra env variables). An entry
 * that changes from a local server to a URL (or back) loses the keys of the other kind, which the
 * client would otherwise take as a mixed, invalid entry.
 */
function mergeEntry(previous: unknown, entry: Record<string, unknown>): Record<string, unknown> {
  if (!isObject(previous)) return entry;
  const remote = REMOTE_KEYS.some((k) => k in entry);
  const kept = Object.fromEntries(Object.entries(previous).filter(([k]) => !(remote ? LOCAL_KEYS : REMOTE_KEYS).includes(k)));
  if (remote) return { ...kept, ...entry };
  const env = { ...(isObject(kept.env) ? kept.env : {}), ...(isObject(entry.env) ? entry.env : {}) };
  return { ...kept, ...entry, ...(Object.keys(env).length ? { env } : {}) };
}

type Parsed = { ok: true; value: Record<string, unknown> } | { ok: false; status: 'malformed' | 'has_comments'; reason: string };

function parseConfig(text: string, key: string): Parsed {
  if (text.trim() === '') return { ok: true, value: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (isJsonWithComments(text)) return { ok: false, status: 'has_comments', reason: 'it holds comments or trailing commas, which rewriting it would lose' };
    return { ok: false, status: 'malformed', reason: `it is not valid JSON (${(error as Error).message})` };
  }
  if (!isObject(value)) return { ok: false, status: 'malformed', reason: 'its top level is not a JSON object' };
  if (value[key] !== undefined && !isObject(value[key])) return { ok: false, status: 'malformed', reason: `its "${key}" is not a JSON object` };
  return { ok: true, value };
}

/** JSON once comments and trailing commas are removed (the JSONC that VS Code and Cursor accept)? */
function isJsonWithComments(text: string): boolean {
  try {
    JSON.parse(stripJsonComments(text).replace(/,(\s*[}\]])/g, '$1'));
    return true;
  } catch {
    return false;
  }
}

function stripJsonComments(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      const end = endOfString(text, i);
      out += text.slice(i, end);
      i = end - 1;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      i = close === -1 ? text.length : close + 1;
    } else out += c;
  }
  return out;
}

function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  return text.length;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function render(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
