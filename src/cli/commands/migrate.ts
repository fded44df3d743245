import { readSettings, resolveBaseDir } from '../../config.js';
import { ensureLayout, layoutFor } from '../../storage/layout.js';
import { migrateLegacyConfig } from '../../storage/role-files.js';

/** `task-orchestrator migrate`: config/specialists.yaml and config/templates/ into .task_orchestrator/roles/. */
export async function migrate(options: { baseDir?: string; force?: boolean }): Promise<number> {
  const settings = readSettings(options.baseDir ? { ...process.env, MCP_TASK_ORCHESTRATOR_BASE_DIR: options.baseDir } : process.env);
  const baseDir = resolveBaseDir(settings);
  if (!baseDir) {
    process.stderr.write(`error: ${process.cwd()} is not a usable project folder. Run this in the project, or pass --base-dir.\n`);
    return 2;
  }
  const layout = layoutFor(baseDir, settings.configDir ?? undefined);
  try {
    await ensureLayout(layout);
    const report = await migrateLegacyConfig(layout, { force: options.force === true });
    for (const c of report.copied) process.stdout.write(`migrated ${c.from} -> ${c.to}\n`);
    for (const s of report.skipped) process.stdout.write(`skipped  ${s.from}: ${s.reason}\n`);
    if (!report.copied.length && !report.skipped.length) process.stdout.write(`nothing to migrate: no config/specialists.yaml or config/templates/ in ${baseDir}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`error: migration failed: ${(error as Error).message}\n`);
    return 1;
  }
}
