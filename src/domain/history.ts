import type { ParentTask, Subtask } from './model.js';

/**
 * The history of a parent: one event per transition, kept inline in the parent's file so that it is
 * written in the same atomic write as the change it records and is archived with the parent. Python-era
 * files have none (absent means empty). Cost, measured in the pretty-printed file: about 200 bytes per
 * event, 420 with a full note, so some 600 bytes per subtask done once and about 120 KB for a task of
 * 200 subtasks, rewritten with the file on each write. Notes are cut to HISTORY_NOTE_CHARS so one event
 * stays small whatever the results were.
 */
export interface HistoryEvent {
  /** ISO time of the write. */
  at: string;
  /** Who made the change (the MCP session for now), null when unknown. */
  agent: string | null;
  /** The subtask, or the parent's own id for the parent's events (planned, archived). */
  task_id: string;
  /** Status before; null for the parent's creation. */
  from: string | null;
  to: string;
  /** The parent's revision this write produced. */
  revision: number;
  /** What was recorded: the start of the results, "forced past ...", "detailed work: <file>". */
  note?: string;
}

/** Characters of a note kept in an event: enough to recognise the results, which stay in full on the subtask. */
export const HISTORY_NOTE_CHARS = 200;

export interface EventSource {
  /** ISO time of the change. */
  at: string;
  agent: string | null;
}

/** Appends events to a parent, all stamped with the revision the write will give it (the store adds 1). */
export function appendEvents(parent: ParentTask, source: EventSource, events: readonly Omit<HistoryEvent, 'at' | 'agent' | 'revision'>[]): ParentTask {
  if (events.length === 0) return parent;
  const revision = (parent.revision ?? 0) + 1;
  const stamped = events.map((e) => ({ at: source.at, agent: source.agent, task_id: e.task_id, from: e.from, to: e.to, revision, ...(e.note ? { note: clip(e.note) } : {}) }));
  return { ...parent, history: [...(parent.history ?? []), ...stamped] };
}

/** A new parent's first event: created (null) -> active. Its file is written with this revision. */
export function recordPlanned(parent: ParentTask, source: EventSource): ParentTask {
  const note = `planned with ${parent.subtasks.length} subtask${parent.subtasks.length === 1 ? '' : 's'}`;
  const event: HistoryEvent = { at: source.at, agent: source.agent, task_id: parent.parent_task_id, from: null, to: 'active', revision: parent.revision ?? 1, note };
  return { ...parent, history: [...(parent.history ?? []), event] };
}

/**
 * Records what a change did to one subtask (`before` is the parent as read, `after` as it will be
 * written): its status change, and the parent's when it completed (the store archives it with this
 * write) or was reopened from the archive. A change that changed nothing records nothing.
 */
export function recordTransition(before: ParentTask, after: ParentTask, taskId: string, source: EventSource): ParentTask {
  if (after === before) return after;
  const was = before.subtasks.find((s) => s.task_id === taskId);
  const now = after.subtasks.find((s) => s.task_id === taskId);
  if (!now) return after;
  const events: Omit<HistoryEvent, 'at' | 'agent' | 'revision'>[] = [];
  const note = noteFor(was, now);
  events.push({ task_id: taskId, from: was?.status ?? null, to: now.status, ...(note ? { note } : {}) });
  const wasDone = before.status === 'completed';
  const isDone = after.status === 'completed';
  if (isDone && !wasDone) events.push({ task_id: after.parent_task_id, from: 'active', to: 'archived', note: 'every subtask completed' });
  if (wasDone && !isDone) events.push({ task_id: after.parent_task_id, from: 'archived', to: 'active', note: `reopened by ${taskId}` });
  return appendEvents(after, source, events);
}

/** What the change recorded on the subtask, in a few words. */
function noteFor(was: Subtask | undefined, now: Subtask): string {
  const parts: string[] = [];
  const forced = now.forced_past_dependencies ?? [];
  if (forced.length && (was?.status !== 'active' || JSON.stringify(was.forced_past_dependencies ?? []) !== JSON.stringify(forced))) parts.push(`forced past ${forced.join(', ')}`);
  if (now.detailed_work_file && now.detailed_work_file !== (was?.detailed_work_file ?? null)) parts.push(`detailed work: ${now.detailed_work_file}`);
  const recorded = recordedText(was, now);
  if (recorded) parts.push(recorded);
  return parts.join('; ');
}

function recordedText(was: Subtask | undefined, now: Subtask): string | null {
  if (now.status === 'completed') return now.results;
  if (now.status === 'blocked') return now.blocked_reason ?? now.results;
  // needs_revision: the results went to the revision notes
  const notes = now.revision_notes ?? [];
  if (now.status === 'pending' && notes.length > (was?.revision_notes?.length ?? 0)) return `needs revision: ${notes.at(-1)}`;
  return null;
}

function clip(note: string): string {
  if (note.length <= HISTORY_NOTE_CHARS) return note;
  let end = HISTORY_NOTE_CHARS - 1;
  if (/[\uD800-\uDBFF]/.test(note[end - 1]!)) end--; // never split a surrogate pair
  return `${note.slice(0, end)}…`;
}

/** The events of a parent (empty for files written before history was kept), or of one of its subtasks. */
export function eventsOf(parent: ParentTask, taskId: string = parent.parent_task_id): HistoryEvent[] {
  const all = parent.history ?? [];
  return taskId === parent.parent_task_id ? all : all.filter((e) => e.task_id === taskId);
}
