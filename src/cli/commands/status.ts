import { statusReport, type ParentStatusView, type StatusReport, type SubtaskMention } from '../../app/status-report.js';
import { SUBTASK_STATUSES, type StatusCounts } from '../../domain/model.js';
import { truncate } from '../../domain/ids.js';
import { mark, paint, percent, plural, printable, progressBar, STATUS_PAINT, styleFor, type Style } from '../format.js';
import { redactDatabaseUrl } from '../../store/postgres/database-url.js';
import { EXIT, layoutOf, print, printJson, storeExists, withProject, type BaseOptions } from '../run.js';

export interface StatusOptions extends BaseOptions {
  all?: boolean;
  json?: boolean;
}

/** `task-orchestrator status`: every unfinished parent with its progress; --all adds the archived ones. */
export async function status(options: StatusOptions): Promise<number> {
  const { settings, layout } = layoutOf(options);
  const report: StatusReport = settings.databaseUrl || (await storeExists(layout))
    ? await withProject(settings, layout, { recover: false }, ({ orchestrator }) => statusReport(orchestrator.ctx, { includeArchived: options.all === true }))
    : emptyReport(layout.base, options.all === true);
  // In team mode the tasks are in the database, not in the project folder.
  const where = settings.databaseUrl ? `the database ${redactDatabaseUrl(settings.databaseUrl)}` : report.base_dir;
  if (options.json) printJson(report);
  else printReport(printable(report), where, styleFor(process.stdout));
  return EXIT.OK;
}

function emptyReport(baseDir: string, includeArchived: boolean): StatusReport {
  const none = Object.fromEntries(SUBTASK_STATUSES.map((s) => [s, 0])) as StatusCounts;
  return { base_dir: baseDir, include_archived: includeArchived, parents: [], totals: { parents: 0, unfinished_parents: 0, subtasks: { ...none, total: 0 } }, storage_problems: [] };
}

function printReport(report: StatusReport, where: string, style: Style): void {
  if (report.parents.length === 0) print(`No ${report.include_archived ? '' : 'unfinished '}tasks in ${printable(where)}.`);
  for (const parent of report.parents) printParent(parent, style);
  if (report.parents.length) print(totalsLine(report));
  for (const p of report.storage_problems) print(`${mark(style, 'problem')} ${p.file} cannot be used: ${p.reason}. Run "task-orchestrator doctor" for details.`);
}

function printParent(parent: ParentStatusView, style: Style): void {
  const { completed_subtasks: done, total_subtasks: total } = parent.progress;
  const where = parent.location === 'archive' ? paint(style, 'gray', ' (archived)') : '';
  print(`${paint(style, 'bold', parent.parent_task_id)}  ${truncate(oneLine(parent.title), 70)}${where}`);
  const bar = progressBar(style, total ? done / total : 0);
  print(`  ${bar ? `${bar} ` : ''}${percent(done, total)} (${done}/${total} completed)  ${countsLine(parent.status_counts, style)}`);
  for (const s of parent.interrupted_subtasks) print(`  ${paint(style, 'magenta', 'interrupted')} ${mention(s)}: its session ended while it was active; execute it again to resume`);
  for (const s of parent.blocked_subtasks) print(`  ${paint(style, 'yellow', 'blocked')} ${mention(s)}${s.reason ? `: ${truncate(oneLine(s.reason), 100)}` : ''}`);
  for (const s of parent.failed_subtasks) print(`  ${paint(style, 'red', 'failed')} ${mention(s)}${s.reason ? `: ${truncate(oneLine(s.reason), 100)}` : ''}`);
  print();
}

function countsLine(counts: StatusCounts, style: Style): string {
  return SUBTASK_STATUSES.filter((s) => counts[s] > 0)
    .map((s) => paint(style, STATUS_PAINT[s]!, `${s} ${counts[s]}`))
    .join(', ');
}

function totalsLine(report: StatusReport): string {
  const { subtasks } = report.totals;
  const counts = SUBTASK_STATUSES.filter((s) => subtasks[s] > 0).map((s) => `${subtasks[s]} ${s}`);
  return `${plural(report.totals.parents, 'task')} (${report.totals.unfinished_parents} unfinished), ${plural(subtasks.total, 'subtask')}: ${counts.join(', ') || 'none'}.`;
}

function mention(s: SubtaskMention): string {
  return `${s.task_id} "${truncate(oneLine(s.title), 60)}" (${s.specialist_type})`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
