import { archiveCompleted, type ArchiveOutcome } from '../../app/archive-completed.js';
import { parseDuration } from '../duration.js';
import { mark, plural, printable, styleFor } from '../format.js';
import { EXIT, layoutOf, print, printJson, storeExists, warn, withProject, type BaseOptions } from '../run.js';

export interface ArchiveOptions extends BaseOptions {
  olderThan?: string;
  json?: boolean;
}

/** `task-orchestrator archive`: moves completed parents from tasks/active/ to tasks/archive/ now. */
export async function archive(options: ArchiveOptions): Promise<number> {
  const olderThanMs = options.olderThan === undefined ? null : parseDuration(options.olderThan);
  const { settings, layout } = layoutOf(options);
  if (!settings.databaseUrl && !(await storeExists(layout))) {
    print(`Nothing to archive: ${printable(layout.base)} has no .task_orchestrator/ folder.`);
    return EXIT.OK;
  }
  const outcome = await withProject(settings, layout, { recover: false }, ({ orchestrator }) => archiveCompleted(orchestrator.ctx, { olderThanMs }));
  if (options.json) printJson(outcome);
  else printOutcome(printable(outcome), options.olderThan, settings.databaseUrl ? { archive: 'the archive', active: 'the active tasks' } : { archive: 'tasks/archive/', active: 'tasks/active/' });
  return outcome.failed.length ? EXIT.PROBLEMS : EXIT.OK;
}

/** `where`: the folders, or in team mode the database's active tasks and archive. */
function printOutcome(outcome: ArchiveOutcome, olderThan: string | undefined, where: { archive: string; active: string }): void {
  const style = styleFor(process.stdout);
  for (const a of outcome.archived) print(`${mark(style, 'fixed')} archived ${a.parent_task_id}${a.completed_at ? ` (completed ${a.completed_at})` : ''}`);
  for (const f of outcome.failed) warn(`${mark(styleFor(process.stderr), 'problem')} could not archive ${f.parent_task_id}: ${f.reason}`);
  if (outcome.archived.length) print(`${plural(outcome.archived.length, 'task')} archived to ${where.archive}.`);
  if (outcome.kept.length) print(`${plural(outcome.kept.length, 'completed task')} completed less than ${olderThan} ago ${outcome.kept.length === 1 ? 'stays' : 'stay'} in ${where.active}.`);
  if (!outcome.archived.length && !outcome.kept.length && !outcome.failed.length) print(`No completed task in ${where.active}: nothing to archive.`);
}
