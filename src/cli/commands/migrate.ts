import { ensureLayout } from '../../store/file/layout.js';
import { migrateLegacyConfig } from '../../roles/role-files.js';
import { printable } from '../format.js';
import { layoutOf, print, type BaseOptions } from '../run.js';

/** `task-orchestrator migrate`: config/specialists.yaml and config/templates/ into .task_orchestrator/roles/. */
export async function migrate(options: BaseOptions & { force?: boolean }): Promise<number> {
  const { layout } = layoutOf(options); // a folder that does not exist is a usage error, not a new store
  await ensureLayout(layout);
  const report = printable(await migrateLegacyConfig(layout, { force: options.force === true }));
  for (const c of report.copied) print(`migrated ${c.from} -> ${c.to}`);
  for (const s of report.skipped) print(`skipped  ${s.from}: ${s.reason}`);
  if (!report.copied.length && !report.skipped.length) print(`nothing to migrate: no config/specialists.yaml or config/templates/ in ${printable(layout.base)}`);
  return 0;
}
