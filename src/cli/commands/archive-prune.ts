import { isRetentionOn } from '../../domain/retention.js';
import { readSafetySettings } from '../../safety/settings.js';
import { automaticBackup } from '../../transfer/backup.js';
import { stateOfProject } from '../../transfer/open-state.js';
import { pruneArchive } from '../../transfer/retention-run.js';
import { FileLogger } from '../../logging/logger.js';
import { printable } from '../format.js';
import { EXIT, layoutOf, print, printJson, storeExists, withProject, type BaseOptions } from '../run.js';

export interface PruneOptions extends BaseOptions {
  dryRun?: boolean;
  json?: boolean;
}

/**
 * `task-orchestrator archive --prune [--dry-run]`: the retention policy (retention.max_age_days,
 * retention.max_count) applied now: a backup of the whole state and one of the pruned parents first.
 */
export async function archivePrune(options: PruneOptions): Promise<number> {
  const { settings, layout } = layoutOf(options);
  const safety = readSafetySettings(layout.root);
  if (!isRetentionOn(safety.retention)) {
    print('No retention policy is set (retention.max_age_days or retention.max_count in .task_orchestrator/config.yaml, or their variables): nothing is pruned.');
    return EXIT.OK;
  }
  if (!settings.databaseUrl && !(await storeExists(layout))) {
    print(`Nothing to prune: ${printable(layout.base)} has no .task_orchestrator/ folder.`);
    return EXIT.OK;
  }
  const logger = new FileLogger({ level: settings.logLevel, stderr: false });
  try {
    return await withProject(settings, layout, { recover: false }, async (project) => {
      const state = await stateOfProject(project, logger);
      const dryRun = options.dryRun === true;
      const preview = await pruneArchive({ store: project.store, state, layout, logger, keyring: settings.keyring }, safety.retention, { dryRun: true });
      const before = !dryRun && preview.chosen.length ? await automaticBackup(state, layout, { reason: 'before-prune', keep: safety.backup.keep, keyring: settings.keyring }) : null;
      const outcome = dryRun || !preview.chosen.length ? preview : await pruneArchive({ store: project.store, state, layout, logger, keyring: settings.keyring }, safety.retention, { dryRun: false });
      if (options.json) printJson({ dry_run: dryRun, chosen: outcome.chosen, removed: outcome.removed, backup: outcome.backup?.file ?? null, backup_before: before?.file ?? null });
      else {
        for (const c of outcome.chosen.slice(0, 50)) print(`  ${dryRun ? 'would prune' : 'pruned'} ${c.parent_task_id} (${c.at}; ${c.reasons.join(' and ')})`);
        if (outcome.chosen.length > 50) print(`  ... and ${outcome.chosen.length - 50} more`);
        if (dryRun) print(`${outcome.chosen.length} archived parents would be pruned. Nothing was changed (--dry-run).`);
        else print(`${outcome.removed.length} archived parents pruned${outcome.backup ? `; they are in ${printable(outcome.backup.file)}` : ''}.`);
      }
      return EXIT.OK;
    });
  } finally {
    await logger.close();
  }
}
