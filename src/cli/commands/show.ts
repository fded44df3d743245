import { showTask, type ParentDetail, type SubtaskDetail } from '../../app/show-task.js';
import type { Subtask } from '../../domain/model.js';
import { indent, paint, percent, printable, progressBar, STATUS_PAINT, styleFor, type Style } from '../format.js';
import { OrchestratorError } from '../../domain/errors.js';
import { EXIT, layoutOf, print, printJson, storeExists, withProject, type BaseOptions } from '../run.js';

export interface ShowOptions extends BaseOptions {
  json?: boolean;
}

/** `task-orchestrator show <id>`: one parent or subtask in full. */
export async function show(id: string, options: ShowOptions): Promise<number> {
  const { settings, layout } = layoutOf(options);
  if (!(await storeExists(layout))) throw new OrchestratorError('TASK_NOT_FOUND', `No task ${id}: ${layout.base} has no .task_orchestrator/ folder. Pass --base-dir to look in another project.`);
  const detail = await withProject(settings, layout, { recover: false }, ({ orchestrator }) => showTask(orchestrator.ctx, id));
  if (options.json) printJson(detail);
  else if (detail.kind === 'parent') printParent(printable(detail), styleFor(process.stdout));
  else printSubtasks(printable(detail), styleFor(process.stdout));
  return EXIT.OK;
}

function printParent(detail: ParentDetail, style: Style): void {
  const { parent, progress } = detail;
  print(`${paint(style, 'bold', `Task ${parent.parent_task_id}`)}  ${detail.location === 'archive' ? 'archived (tasks/archive/)' : 'active (tasks/active/)'}`);
  if (parent.title && parent.title !== parent.description) field('Title', parent.title);
  field('Description', parent.description);
  if (parent.context) field('Context', parent.context);
  field('Complexity', parent.complexity);
  field('Created', parent.created_at);
  if (parent.updated_at) field('Updated', parent.updated_at);
  if (parent.completed_at) field('Completed', parent.completed_at);
  const bar = progressBar(style, progress.total_subtasks ? progress.completed_subtasks / progress.total_subtasks : 0);
  field('Progress', `${bar ? `${bar} ` : ''}${percent(progress.completed_subtasks, progress.total_subtasks)} (${progress.completed_subtasks}/${progress.total_subtasks} completed)`);
  parent.subtasks.forEach((s, i) => {
    print();
    printSubtask(s, `${i + 1}. `, detail.interrupted_subtask_ids.includes(s.task_id), style);
  });
}

function printSubtasks(detail: SubtaskDetail, style: Style): void {
  detail.matches.forEach((m, i) => {
    if (i > 0) print();
    print(`${paint(style, 'bold', `Subtask of ${m.parent_task_id}`)}  ${m.parent_title}${m.location === 'archive' ? ' (archived)' : ''}`);
    printSubtask(m.subtask, '', m.interrupted, style);
  });
}

function printSubtask(s: Subtask, prefix: string, interrupted: boolean, style: Style): void {
  const state = paint(style, STATUS_PAINT[s.status] ?? 'bold', s.status) + (interrupted ? paint(style, 'magenta', ' (interrupted: its session ended; execute it again to resume)') : '');
  print(`${prefix}${paint(style, 'bold', s.task_id)}  ${s.title}  [${state}]`);
  const lines: [string, string | null | undefined][] = [
    ['Role', s.specialist_type],
    ['Depends on', s.dependencies.length ? s.dependencies.join(', ') : 'nothing'],
    ['Effort', s.estimated_effort || null],
    ['Description', s.description || null],
    ['Created', s.created_at],
    ['Started', s.started_at],
    ['Completed', s.completed_at],
    ['Blocked because', s.blocked_reason],
    ['Results', s.results === s.blocked_reason ? null : s.results],
    ['Artifacts', s.artifacts.length ? s.artifacts.join('\n') : null],
    ['Artifact type', s.artifact_type],
    ['Detailed work', s.detailed_work_file ? `.task_orchestrator/${s.detailed_work_file}` : null],
    ['Earlier detailed work', s.earlier_work_files?.length ? s.earlier_work_files.map((f) => `.task_orchestrator/${f}`).join('\n') : null],
    ['Revision notes', s.revision_notes?.length ? s.revision_notes.map((n, i) => `(${i + 1}) ${n}`).join('\n') : null],
  ];
  for (const [name, value] of lines) if (value) field(name, value, '   ');
}

function field(name: string, value: string, lead = ''): void {
  if (!value.includes('\n')) print(`${lead}${name}: ${value}`);
  else print(`${lead}${name}:\n${indent(value, `${lead}    `)}`);
}
