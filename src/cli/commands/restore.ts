import path from 'node:path';
import { FileLogger } from '../../logging/logger.js';
import { readSafetySettings } from '../../safety/settings.js';
import { restoreState, type RestorePlan } from '../../transfer/backup.js';
import { openProjectState } from '../../transfer/open-state.js';
import { printable } from '../format.js';
import { EXIT, layoutOf, print, printJson, type BaseOptions } from '../run.js';

export interface RestoreOptions extends BaseOptions {
  dryRun?: boolean;
  json?: boolean;
}

/**
 * `task-orchestrator restore FILE [--dry-run]`: verifies the archive, backs up the current state into
 * .task_orchestrator/backups/, then replaces the state at once (docs/data-safety.md, "Restore").
 */
export async function restore(file: string, options: RestoreOptions): Promise<number> {
  const { settings, layout } = layoutOf(options);
  const keep = readSafetySettings(layout.root).backup.keep;
  const logger = new FileLogger({ level: settings.logLevel, stderr: false });
  const store = await openProjectState(layout, settings, logger);
  try {
    const outcome = await restoreState(store, path.resolve(file), { layout, keep, dryRun: options.dryRun === true, keyring: settings.keyring, onStep: killAtStepForTests() });
    if (options.json) printJson({ dry_run: options.dryRun === true, ...outcome.plan, backup_before: outcome.before?.file ?? null });
    else printPlan(outcome.plan, options.dryRun === true, printable(store.description), outcome.before?.file ?? null);
    return EXIT.OK;
  } finally {
    await store.close();
    await logger.close();
  }
}

/** Parents listed one per line; the rest are counted. */
const LISTED = 50;

/**
 * For the crash tests only (test/transfer/backup-restore.test.ts): MCP_TASK_ORCHESTRATOR_TEST_KILL_AT_RESTORE_STEP
 * names a step of the file store's swap (store/file/tasks-swap.ts) at which this process SIGKILLs itself.
 */
function killAtStepForTests(): ((step: string) => void) | undefined {
  const at = process.env.MCP_TASK_ORCHESTRATOR_TEST_KILL_AT_RESTORE_STEP;
  return at ? (step) => step === at && process.kill(process.pid, 'SIGKILL') : undefined;
}

function printPlan(plan: RestorePlan, dryRun: boolean, where: string, before: string | null): void {
  const verb = dryRun ? 'would be' : 'were';
  const lines = [...plan.added.map((id) => `  + ${id}`), ...plan.replaced.map((id) => `  ~ ${id}`), ...plan.removed.map((id) => `  - ${id}`)];
  for (const line of lines.slice(0, LISTED)) print(line);
  if (lines.length > LISTED) print(`  ... and ${lines.length - LISTED} more (--json lists them all)`);
  print(`${plan.added.length} parents ${verb} added, ${plan.replaced.length} replaced, ${plan.removed.length} removed, ${plan.unchanged} unchanged in ${where}.`);
  if (before) print(`The state before the restore is in ${printable(before)}.`);
  if (dryRun) print('Nothing was changed (--dry-run).');
}
