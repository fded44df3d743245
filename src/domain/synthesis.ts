import type { ParentTask, Progress, SubtaskStatus } from './model.js';
import { isParentComplete, progressOf } from './lifecycle.js';

export interface SynthesisEntry {
  task_id: string;
  title: string;
  status: SubtaskStatus;
  results: string | null;
  artifacts: string[];
  detailed_work_file: string | null;
}

export interface Synthesis {
  parent_task_id: string;
  description: string;
  complete: boolean;
  progress: Progress;
  by_role: { specialist_type: string; subtasks: SynthesisEntry[] }[];
  unfinished: { task_id: string; title: string; status: SubtaskStatus; reason: string | null }[];
  all_artifacts: string[];
  report: string;
}

/** The final report: every subtask's results grouped by role, and an honest list of what is unfinished. */
export function synthesize(parent: ParentTask): Synthesis {
  const roles = [...new Set(parent.subtasks.map((s) => s.specialist_type))];
  const byRole = roles.map((role) => ({
    specialist_type: role,
    subtasks: parent.subtasks
      .filter((s) => s.specialist_type === role)
      .map((s) => ({ task_id: s.task_id, title: s.title, status: s.status, results: s.results, artifacts: s.artifacts, detailed_work_file: s.detailed_work_file ?? null })),
  }));
  const unfinished = parent.subtasks
    .filter((s) => s.status !== 'completed')
    .map((s) => ({ task_id: s.task_id, title: s.title, status: s.status, reason: s.blocked_reason ?? null }));
  const synthesis = {
    parent_task_id: parent.parent_task_id,
    description: parent.description,
    complete: isParentComplete(parent),
    progress: progressOf(parent),
    by_role: byRole,
    unfinished,
    all_artifacts: [...new Set(parent.subtasks.flatMap((s) => s.artifacts))],
  };
  return { ...synthesis, report: renderReport(synthesis) };
}

function renderReport(s: Omit<Synthesis, 'report'>): string {
  const lines = [`# Synthesis: ${s.description}`, '', `Task ${s.parent_task_id}: ${s.progress.completed_subtasks} of ${s.progress.total_subtasks} subtasks completed (${s.progress.progress_percentage}%).`];
  lines.push(s.complete ? 'All subtasks are completed.' : `Not finished: ${s.unfinished.length} subtask(s) still open (listed at the end).`);
  for (const group of s.by_role) {
    lines.push('', `## ${group.specialist_type}`);
    for (const entry of group.subtasks) {
      lines.push('', `### ${entry.title} (${entry.task_id}, ${entry.status})`);
      lines.push(entry.status === 'completed' ? (entry.results ?? '(no results recorded)') : `(no final results: ${entry.status})`);
      if (entry.detailed_work_file) lines.push(`Detailed work: .task_orchestrator/${entry.detailed_work_file}`);
      if (entry.artifacts.length) lines.push(`Artifacts: ${entry.artifacts.join(', ')}`);
    }
  }
  if (s.unfinished.length) {
    lines.push('', '## Unfinished');
    for (const u of s.unfinished) lines.push(`- ${u.task_id} "${u.title}": ${u.status}${u.reason ? ` (${u.reason})` : ''}`);
  }
  return lines.join('\n');
}
