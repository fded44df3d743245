import path from 'node:path';
import { ENTRY_KINDS } from '../../domain/backup-manifest.js';
import { FileLogger } from '../../logging/logger.js';
import { readSafetySettings } from '../../safety/settings.js';
import { automaticBackup, backupState } from '../../transfer/backup.js';
import { openProjectState } from '../../transfer/open-state.js';
import { printable } from '../format.js';
import { EXIT, layoutOf, print, printJson, storeExists, type BaseOptions } from '../run.js';

export interface BackupOptions extends BaseOptions {
  to?: string;
  json?: boolean;
}

/** `task-orchestrator backup [--to FILE]`: one archive of the whole state, from the file store or PostgreSQL. */
export async function backup(options: BackupOptions): Promise<number> {
  const { settings, layout } = layoutOf(options);
  if (!settings.databaseUrl && !(await storeExists(layout))) {
    print(`Nothing to back up: ${printable(layout.base)} has no .task_orchestrator/ folder.`);
    return EXIT.OK;
  }
  const keep = readSafetySettings(layout.root).backup.keep;
  const logger = new FileLogger({ level: settings.logLevel, stderr: false });
  const store = await openProjectState(layout, settings, logger);
  try {
    const { keyring } = settings;
    const result = options.to ? await backupState(store, path.resolve(options.to), { keyring }) : await automaticBackup(store, layout, { reason: null, keep, keyring });
    const counts = result.manifest.counts;
    if (options.json) printJson({ file: result.file, bytes: result.bytes, source: result.manifest.source, counts });
    else {
      print(`Backed up ${printable(store.description)} to ${printable(result.file)} (${result.bytes} bytes):`);
      print(`  ${ENTRY_KINDS.map((k) => `${counts[k]} ${k.replace('_', ' ')}`).join(', ')}`);
    }
    return EXIT.OK;
  } finally {
    await store.close();
    await logger.close();
  }
}
