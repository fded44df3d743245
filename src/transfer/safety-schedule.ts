import { readFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../app/ports.js';
import type { OpenProject } from '../compose/open-project.js';
import { isRetentionOn } from '../domain/retention.js';
import { isDue } from '../domain/schedule.js';
import { readSafetySettings, type SafetySettings } from '../safety/settings.js';
import { writeFileDurable } from '../store/file/durable-fs.js';
import { automaticBackup, backupsDir } from './backup.js';
import { stateOfProject } from './open-state.js';
import { pruneArchive } from './retention-run.js';

/** How often a server looks whether a scheduled backup or retention run is due. */
const CHECK_EVERY_MS = 10 * 60 * 1000;
/** The first look, a little after start: never in the way of the first tool calls. */
const FIRST_CHECK_MS = 5_000;
const DAY_MS = 86_400_000;

export type ScheduledJob = 'backup' | 'retention';

/**
 * Claims one run of a job for this interval: true for exactly one server of a project (file store: under
 * the lock "schedule-<job>", a marker .task_orchestrator/backups/.schedule-<job>.json) or of a database
 * (an advisory lock and a row of the meta table), until the interval has passed since the last claim.
 */
export async function claimScheduledRun(project: OpenProject, job: ScheduledJob, intervalMs: number, now: Date): Promise<boolean> {
  if (project.team) return (await import('./postgres-state.js')).claimInDatabase(project.team.db, job, intervalMs, now);
  const marker = path.join(backupsDir(project.layout), `.schedule-${job}.json`);
  return project.files!.locks.withLock(`schedule-${job}`, async () => {
    const last = await readFile(marker, 'utf8').then((t) => (JSON.parse(t) as { at?: string }).at, () => undefined);
    if (!isDue(last, intervalMs, now)) return false;
    await mkdir(path.dirname(marker), { recursive: true, mode: 0o700 });
    await writeFileDurable(marker, `${JSON.stringify({ at: now.toISOString(), pid: process.pid })}\n`);
    return true;
  });
}


/** One look: the scheduled backup and the daily retention run, each if due and claimed by this server. */
export async function runScheduledWork(project: OpenProject, logger: Logger, settings: SafetySettings, now = new Date()): Promise<{ backup: string | null; pruned: number | null }> {
  const state = await stateOfProject(project, logger);
  const done: { backup: string | null; pruned: number | null } = { backup: null, pruned: null };
  const hours = settings.backup.intervalHours;
  if (hours > 0 && (await claimScheduledRun(project, 'backup', hours * 3_600_000, now))) {
    const { keyring } = project.encryption;
    const result = await automaticBackup(state, project.layout, { reason: null, keep: settings.backup.keep, keyring });
    logger.info(`Scheduled backup written to ${result.file}`, { counts: result.manifest.counts, bytes: result.bytes });
    done.backup = result.file;
  }
  if (isRetentionOn(settings.retention) && (await claimScheduledRun(project, 'retention', DAY_MS, now))) {
    const parts = { store: project.store, state, layout: project.layout, logger, keyring: project.encryption.keyring };
    const preview = await pruneArchive(parts, settings.retention, { dryRun: true, now });
    if (preview.chosen.length) {
      await automaticBackup(state, project.layout, { reason: 'before-prune', keep: settings.backup.keep, keyring: parts.keyring });
      done.pruned = (await pruneArchive(parts, settings.retention, { dryRun: false, now })).removed.length;
    } else done.pruned = 0;
  }
  return done;
}

/**
 * Starts the scheduled backups and retention runs of a running server (README, "Your data"). The timers
 * are unref'd (they never keep the process alive) and the work runs beside tool calls, never before one.
 * Returns the function that stops them (waiting for a run in progress).
 */
export function startSafetySchedule(project: OpenProject, logger: Logger): () => Promise<void> {
  if (project.store.readOnly) return async () => {};
  let running: Promise<void> | null = null;
  let reportedSettings = false;
  const look = () => {
    running ??= (async () => {
      try {
        await runScheduledWork(project, logger, readSafetySettings(project.layout.root));
      } catch (error) {
        if (!reportedSettings) logger.warn(`Scheduled backup or retention run failed: ${(error as Error).message}`);
        reportedSettings = (error as Error).name === 'InvalidSettingError'; // said once, not every ten minutes
      } finally {
        running = null;
      }
    })();
  };
  const first = setTimeout(() => void look(), FIRST_CHECK_MS);
  const every = setInterval(() => void look(), CHECK_EVERY_MS);
  first.unref();
  every.unref();
  return async () => {
    clearTimeout(first);
    clearInterval(every);
    await running; // the store stays open until a backup in progress is written
  };
}
