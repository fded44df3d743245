import path from 'node:path';
import { findPythonInstallation, importPythonInstallation, type ImportEntry, type ImportReport } from '../../import-python/python-import.js';
import { importPythonRoles, type RolesImportReport } from '../../import-python/python-roles.js';
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
  const tasks = await withProject(settings, layout, { recover: false }, ({ store }) => importPythonInstallation(store, source, (done, total, id) => progress.update(done, total, id)));
  progress.done();
  const report: ImportReport = { ...tasks, roles: await importPythonRoles(layout.rolesDir, source.roleFiles) };
  if (options.json) printJson(report);
  else printReport(printable(report), printable(layout.root), styleFor(process.stdout));
  return report.counts.unreadable + report.counts.failed + roleProblems(report.roles) > 0 ? EXIT.PROBLEMS : EXIT.OK;
}

function printReport(report: ImportReport, target: string, style: Style): void {
  print(`Imported from ${report.source_root} into ${target}`);
  print('Read:');
  if (report.task_files) print(`  ${plural(report.task_files, 'task file')} in ${path.join(report.source_root, 'tasks')}`);
  for (const db of report.databases) {
    const wal = db.wal_pages_applied ? `, with the committed changes of its -wal file: ${plural(db.wal_pages_applied, 'page')}` : '';
    print(`  database ${db.file} (${plural(db.parents, 'task')}${wal})`);
  }
  for (const file of report.roles.files) print(`  roles ${file.file}`);
  for (const e of report.entries) printEntry(e, style);
  printRoles(report.roles, style);
  print(summary(report));
}

function printRoles(roles: RolesImportReport, style: Style): void {
  const problem = (text: string) => warn(`${mark(styleFor(process.stderr), 'problem')} ${text}`);
  if (roles.error) problem(roles.error);
  for (const file of roles.files) {
    if (file.error) problem(`skipped ${file.file}: ${file.error}`);
    for (const role of file.imported) print(`${mark(style, 'fixed')} imported role ${paint(style, 'bold', role)} into ${roles.written}`);
    for (const role of file.kept) print(`  kept your role ${role} (${path.basename(file.file)} has one too)`);
    for (const { role, reason } of file.invalid) problem(`skipped role "${role}" of ${file.file}: ${reason}`);
  }
}

function roleProblems(roles: RolesImportReport): number {
  return (roles.error ? 1 : 0) + roles.files.reduce((n, f) => n + (f.error ? 1 : 0) + f.invalid.length, 0);
}

function printEntry(e: ImportEntry, style: Style): void {
  const id = e.parent_task_id ?? path.basename(e.source);
  if (e.outcome === 'imported') print(`${mark(style, 'fixed')} imported ${paint(style, 'bold', id)} into tasks/${e.location}/`);
  else if (e.outcome === 'unreadable' || e.outcome === 'failed') warn(`${mark(styleFor(process.stderr), 'problem')} ${e.outcome === 'failed' ? 'could not import' : 'skipped'} ${e.source}: ${e.detail}`);
}

function summary(report: ImportReport): string {
  const { counts } = report;
  const rolesImported = report.roles.files.reduce((n, f) => n + f.imported.length, 0);
  const parts = [
    `${plural(counts.imported, 'task')} imported`,
    counts.already_present ? `${counts.already_present} already present (left as they are)` : null,
    counts.duplicate ? `${plural(counts.duplicate, 'older duplicate copy', 'older duplicate copies')} skipped` : null,
    counts.unreadable ? `${counts.unreadable} could not be read` : null,
    counts.failed ? `${counts.failed} failed` : null,
    rolesImported ? `${plural(rolesImported, 'role')} imported` : null,
  ].filter(Boolean);
  const nothingNew = counts.imported + rolesImported === 0 && counts.unreadable + counts.failed === 0 ? ' Nothing new to import.' : '';
  return `\nSummary: ${parts.join(', ')}.${nothingNew} The Python files were only read, never changed.`;
}
