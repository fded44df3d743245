import type { ParentTask, Progress, Subtask, SubtaskStatus } from './model.js';
import { isParentComplete, progressOf } from './lifecycle.js';
import { truncate } from './ids.js';

export interface SynthesisEntry {
  task_id: string;
  title: string;
  status: SubtaskStatus;
  results: string | null;
  /** The first ARTIFACTS_PER_ENTRY; artifact_count says how many there are. */
  artifacts: string[];
  artifact_count: number;
  detailed_work_file: string | null;
}

/** Which part of the subtasks (in report order) a synthesis shows: replies are bounded, a long report comes in parts. */
export interface SynthesisPart {
  /** Index of the first subtask shown, in report order (grouped by role). */
  first: number;
  /** How many are shown. */
  count: number;
}

export interface Synthesis {
  parent_task_id: string;
  description: string;
  complete: boolean;
  progress: Progress;
  /** The subtasks of this part, grouped by role. */
  by_role: { specialist_type: string; subtasks: SynthesisEntry[] }[];
  /** Subtasks shown in this part, and of how many: all of them unless the results outgrow one reply. */
  shown: { first: number; count: number; total: number };
  unfinished: { task_id: string; title: string; status: SubtaskStatus; reason: string | null }[];
  /** The first ARTIFACTS_LISTED distinct artifacts of all subtasks; artifact_count says how many there are. */
  all_artifacts: string[];
  artifact_count: number;
  report: string;
}

export const ARTIFACTS_PER_ENTRY = 50;
export const ARTIFACTS_LISTED = 200;
/** A blocked subtask's reason is its results (up to 10,000 characters); the unfinished list shows its start. */
const REASON_SHOWN = 300;

/** The subtasks in report order: grouped by role, roles in order of first appearance. */
export function subtasksInReportOrder(parent: ParentTask): Subtask[] {
  const roles = [...new Set(parent.subtasks.map((s) => s.specialist_type))];
  return roles.flatMap((role) => parent.subtasks.filter((s) => s.specialist_type === role));
}

/** One subtask as a report shows it (also what a part of a report is sized by). */
export function entryOf(s: Subtask): SynthesisEntry {
  return { task_id: s.task_id, title: s.title, status: s.status, results: s.results, artifacts: s.artifacts.slice(0, ARTIFACTS_PER_ENTRY), artifact_count: s.artifacts.length, detailed_work_file: s.detailed_work_file ?? null };
}

/** The final report: every subtask's results grouped by role (or one part of them), and an honest list of what is unfinished. */
export function synthesize(parent: ParentTask, part?: SynthesisPart): Synthesis {
  const ordered = subtasksInReportOrder(parent);
  const first = part?.first ?? 0;
  const shownSubtasks = ordered.slice(first, first + (part?.count ?? ordered.length));
  const byRole: Synthesis['by_role'] = [];
  for (const s of shownSubtasks) {
    let group = byRole.at(-1);
    if (!group || group.specialist_type !== s.specialist_type) {
      group = { specialist_type: s.specialist_type, subtasks: [] };
      byRole.push(group);
    }
    group.subtasks.push(entryOf(s));
  }
  const unfinished = parent.subtasks
    .filter((s) => s.status !== 'completed')
    .map((s) => ({ task_id: s.task_id, title: s.title, status: s.status, reason: s.blocked_reason ? truncate(s.blocked_reason, REASON_SHOWN) : null }));
  const artifacts = [...new Set(parent.subtasks.flatMap((s) => s.artifacts))];
  const synthesis = {
    parent_task_id: parent.parent_task_id,
    description: parent.description,
    complete: isParentComplete(parent),
    progress: progressOf(parent),
    by_role: byRole,
    shown: { first, count: shownSubtasks.length, total: ordered.length },
    unfinished,
    all_artifacts: artifacts.slice(0, ARTIFACTS_LISTED),
    artifact_count: artifacts.length,
  };
  return { ...synthesis, report: renderReport(synthesis) };
}

function renderReport(s: Omit<Synthesis, 'report'>): string {
  const lines = [`# Synthesis: ${s.description}`, '', `Task ${s.parent_task_id}: ${s.progress.completed_subtasks} of ${s.progress.total_subtasks} subtasks completed (${s.progress.progress_percentage}%).`];
  lines.push(s.complete ? 'All subtasks are completed.' : `Not finished: ${s.unfinished.length} subtask(s) still open (listed at the end).`);
  const partial = s.shown.count < s.shown.total;
  if (partial) lines.push(`This part shows subtasks ${s.shown.first + 1} to ${s.shown.first + s.shown.count} of ${s.shown.total} (the results do not fit in one reply).`);
  for (const group of s.by_role) {
    lines.push('', `## ${group.specialist_type}`);
    for (const entry of group.subtasks) {
      lines.push('', `### ${entry.title} (${entry.task_id}, ${entry.status})`);
      lines.push(entry.status === 'completed' ? (entry.results ?? '(no results recorded)') : `(no final results: ${entry.status})`);
      if (entry.detailed_work_file) lines.push(`Detailed work: .task_orchestrator/${entry.detailed_work_file}`);
      if (entry.artifacts.length) lines.push(`Artifacts: ${entry.artifacts.join(', ')}${moreOf(entry.artifact_count, entry.artifacts.length)}`);
    }
  }
  if (s.unfinished.length) {
    lines.push('', '## Unfinished');
    for (const u of s.unfinished) lines.push(`- ${u.task_id} "${u.title}": ${u.status}${u.reason ? ` (${u.reason})` : ''}`);
  }
  return lines.join('\n');
}

function moreOf(total: number, shown: number): string {
  return total > shown ? ` and ${total - shown} more` : '';
}
