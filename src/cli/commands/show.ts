import { showTask, type ParentDetail, type SubtaskDetail } from '../../app/show-task.js';
import type { Subtask } from '../../domain/model.js';
import { indent, paint, percent, printable, progressBar, STATUS_PAINT, styleFor, type Style } from '../format.js';
import { OrchestratorError } from '../../domain/errors.js';
import type { TaskStore } from '../../app/ports.js';
import { encryptionConfigured } from '../../config.js';
import { EXIT, layoutOf, print, printJson, storeExists, withProject, type BaseOptions } from '../run.js';

export interface ShowOptions extends BaseOptions {
  json?: boolean;
}

/** `task-orchestrator show <id>`: one parent or subtask in full. */
export async function show(id: string, options: ShowOptions): Promise<number> {
  const { settings, layout } = layoutOf(options);
  if (!settings.databaseUrl && !(await storeExists(layout))) throw new OrchestratorError('TASK_NOT_FOUND', `No task ${id}: ${layout.base} has no .task_orchestrator/ folder. Pass --base-dir to look in another project.`);
  // In team mode the detailed work is in the database, and with encryption at rest its files hold
  // ciphertext: either way a person cannot open it, so it is shown here.
  const inline = settings.databaseUrl !== null || encryptionConfigured(settings);
  const { detail, documents } = await withProject(settings, layout, { recover: false }, async ({ orchestrator, store }) => {
    const shown = await showTask(orchestrator.ctx, id);
    return { detail: shown, documents: inline ? await documentsOf(store, shown) : null };
  });
  if (options.json) printJson(documents ? { ...detail, documents: Object.fromEntries(documents) } : detail);
  else if (detail.kind === 'parent') printParent(printable(detail), printableDocuments(documents), styleFor(process.stdout));
  else printSubtasks(printable(detail), printableDocuments(documents), styleFor(process.stdout));
  return EXIT.OK;
}

/** The detailed work of the subtasks shown, by path (team mode, encryption at rest). */
async function documentsOf(store: TaskStore, detail: ParentDetail | SubtaskDetail): Promise<Map<string, string>> {
  const subtasks = detail.kind === 'parent' ? detail.parent.subtasks : detail.matches.map((m) => m.subtask);
  const documents = new Map<string, string>();
  for (const file of subtasks.flatMap((s) => [...(s.earlier_work_files ?? []), ...(s.detailed_work_file ? [s.detailed_work_file] : [])])) {
    const text = await store.readDocument(file);
    if (text !== null) documents.set(file, text);
  }
  return documents;
}

function printParent(detail: ParentDetail, documents: Documents, style: Style): void {
  const { parent, progress } = detail;
  const where = documents ? detail.location === 'archive' ? 'archived' : 'active' : detail.location === 'archive' ? 'archived (tasks/archive/)' : 'active (tasks/active/)';
  print(`${paint(style, 'bold', `Task ${parent.parent_task_id}`)}  ${where}`);
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
    printSubtask(s, `${i + 1}. `, detail.interrupted_subtask_ids.includes(s.task_id), documents, style);
  });
}

function printSubtasks(detail: SubtaskDetail, documents: Documents, style: Style): void {
  detail.matches.forEach((m, i) => {
    if (i > 0) print();
    print(`${paint(style, 'bold', `Subtask of ${m.parent_task_id}`)}  ${m.parent_title}${m.location === 'archive' ? ' (archived)' : ''}`);
    printSubtask(m.subtask, '', m.interrupted, documents, style);
  });
}

/** Team mode: the documents' texts by path; null for the file store, whose documents are files to open. */
type Documents = ReadonlyMap<string, string> | null;

function printSubtask(s: Subtask, prefix: string, interrupted: boolean, documents: Documents, style: Style): void {
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
    ['Detailed work', s.detailed_work_file ? documentLine(s.detailed_work_file, documents) : null],
    ['Earlier detailed work', s.earlier_work_files?.length ? s.earlier_work_files.map((f) => documentLine(f, documents)).join('\n') : null],
    ['Revision notes', s.revision_notes?.length ? s.revision_notes.map((n, i) => `(${i + 1}) ${n}`).join('\n') : null],
  ];
  for (const [name, value] of lines) if (value) field(name, value, '   ');
}

function printableDocuments(documents: Documents): Documents {
  return documents && new Map([...documents].map(([file, text]) => [printable(file), printable(text)]));
}

function documentLine(file: string, documents: Documents): string {
  if (!documents) return `.task_orchestrator/${file}`;
  const text = documents.get(file);
  return text === undefined ? `${file} (not in the database)` : `${file}:\n${text}`;
}

function field(name: string, value: string, lead = ''): void {
  if (!value.includes('\n')) print(`${lead}${name}: ${value}`);
  else print(`${lead}${name}:\n${indent(value, `${lead}    `)}`);
}
