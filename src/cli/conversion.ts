import type { Keyring } from '../safety/encryption.js';
import { KEY_FILE_VARIABLE, PREVIOUS_KEY_FILES_VARIABLE } from '../safety/key-source.js';
import type { ConversionReport } from '../store/encrypting-task-store.js';
import { plural, printable } from './format.js';
import { EXIT, layoutOf, print, printJson, storeExists, UsageError, warn, withProject, type BaseOptions } from './run.js';

/**
 * What `encrypt`, `decrypt` and `rotate-key` share: each brings every parent and document of the store
 * to one keyring's state through the store's own update, one parent per durable write (or transaction),
 * so that servers running meanwhile stay correct and a rerun after a kill continues where it stopped.
 */
export interface ConversionOptions extends BaseOptions {
  json?: boolean;
  /** Print each parent as it is done (tests kill the command midway by these lines). */
  verbose?: boolean;
}

export interface Conversion {
  /** What the command does, for messages: "encrypted", "decrypted", "re-encrypted". */
  done: string;
  /** The keyring the store is converted with, from the settings' one (null: the settings lack what it needs). */
  keyring(configured: Keyring): Keyring;
}

export async function convertStore(options: ConversionOptions, conversion: Conversion): Promise<number> {
  const { settings, layout } = layoutOf(options);
  const keyring = conversion.keyring(settings.keyring);
  if (!settings.databaseUrl && !(await storeExists(layout))) {
    print(`Nothing to convert: ${printable(layout.base)} has no .task_orchestrator/ folder.`);
    return EXIT.OK;
  }
  const report = await withProject({ ...settings, keyring }, layout, { recover: false }, ({ encryption }) =>
    encryption.convertAll((id, outcome) => {
      if (options.verbose && outcome === 'converted') print(`${conversion.done} ${id}`);
    }),
  );
  if (options.json) printJson(report);
  else printReport(report, conversion.done, keyring);
  return report.failed.length || report.unreadable.length ? EXIT.PROBLEMS : EXIT.OK;
}

function printReport(report: ConversionReport, done: string, keyring: Keyring): void {
  const target = keyring.current ? `with the key ${keyring.current.id}` : 'to clear text';
  print(`${plural(report.converted, 'task')} ${done} ${target}; ${plural(report.already, 'task')} already so.`);
  for (const f of report.failed) warn(`could not convert ${f.parent_task_id}: ${printable(f.message)}`);
  for (const u of report.unreadable) warn(`could not read ${printable(u.file)}: ${printable(u.reason)}`);
  if (report.failed.length || report.unreadable.length) warn('Fix these (see the messages), then run the command again: it continues where it stopped.');
}

/** The settings' keyring when it has a current key; else a usage error naming the variable to set. */
export function requireCurrentKey(configured: Keyring, command: string): Keyring {
  if (configured.current) return configured;
  throw new UsageError(`${command} needs the key to encrypt with: set ${KEY_FILE_VARIABLE} to its file ("task-orchestrator setup encryption" creates one).${command === 'rotate-key' ? ` Put the files of the keys being replaced in ${PREVIOUS_KEY_FILES_VARIABLE}.` : ''}`);
}
