import path from 'node:path';
import { findPythonInstallation, importPythonInstallation, type ImportEntry, type ImportReport } from '../../storage/python-import.js';
import { mark, paint, plural, printable, styleFor, type Style } from '../format.js';
import { LiveProgress } from '../progress.js';
import { EXIT, layoutOf, print, printJson, UsageError, warn, withProject, type BaseOptions } from '../run.js';

export interface ImportPythonOptions extends BaseOptions {
  fromPython: string;
  force?: boolean;
  json?: boolean;
}

/** `task-orchestrator migrate --from-python <dir>`: imports a Python orchestrator's tasks; running it again changes nothing. */
export async function importPython(options: ImportPythonOptions): Promise<number> {
  if (options.force) throw new UsageError('--force applies to the role migration only; --from-python never overwrites a task. Run them separately.');
  const { settings, layout } = layoutOf(options);
  const source = await findPythonInstallation(options.fromPython);
  const progress = new LiveProgress('Importing');
  const report = await withProject(settings, layout, { recover: false }, ({ store }) => importPythonInstallation(store, source, (done, total, id) => progress.update(done, total, id)));
  progress.done();
  if (options.json) printJson(report);
  else printReport(printable(report), printable(layout.root), styleFor(process.stdout));
  return report.counts.unreadable + report.counts.failed > 0 ? EXIT.PROBLEMS : EXIT.OK;
}

function printReport(report: ImportReport, target: string, style: Style): void {
  print(`Imported from ${report.source_root} into ${target}`);
  if (report.database) print(`  database ${path.basename(report.database)}${report.wal_pages_applied ? ` (with the committed changes of its -wal file: ${plural(report.wal_pages_applied, "page")})` : ''}`);
  for (const e of report.entries) printEntry(e, style);
  print(summary(report));
}

function printEntry(e: ImportEntry, style: Style): void {
  const id = e.parent_task_id ?? path.basename(e.source);
  if (e.outcome === 'imported') print(`${mark(style, 'fixed')} imported ${paint(style, 'bold', id)} into tasks/${e.location}/`);
  else if (e.outcome === 'unreadable' || e.outcome === 'failed') warn(`${mark(styleFor(process.stderr), 'problem')} ${e.outcome === 'failed' ? 'could not import' : 'skipped'} ${e.source}: ${e.detail}`);
}

function summary(report: ImportReport): string {
  const { counts } = report;
  const parts = [
    `${plural(counts.imported, 'task')} imported`,
    counts.already_present ? `${counts.already_present} already present (left as they are)` : null,
    counts.duplicate ? `${plural(counts.duplicate, 'older duplicate copy', 'older duplicate copies')} skipped` : null,
    counts.unreadable ? `${counts.unreadable} could not be read` : null,
    counts.failed ? `${counts.failed} failed` : null,
  ].filter(Boolean);
  const nothingNew = counts.imported === 0 && counts.unreadable + counts.failed === 0 ? ' Nothing new to import.' : '';
  return `\nSummary: ${parts.join(', ')}.${nothingNew} The Python files were only read, never changed.`;
}
