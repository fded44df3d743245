import { readFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../app/ports.js';
import type { OpenProject } from '../compose/open-project.js';
import { isRetentionOn } from '../domain/retention.js';
import { readSafetySettings, type SafetySettings } from '../safety/settings.js';
import { writeFileDurable } from '../store/file/durable-fs.js';
import { SCHEMA } from '../store/postgres/schema.js';
import { automaticBackup, backupsDir } from './backup.js';
import { stateOfProject } from './open-state.js';
import { pruneArchive } from './retention-run.js';

/** How often a server looks whether a scheduled backup or retention run is due. */
const CHECK_EVERY_MS = 10 * 60 * 1000;
/** The first look, a little after start: never in the way of the first tool calls. */
const FIRST_CHECK_MS = 5_000;
const DAY_MS = 86_400_000;
/** Advisory lock of the schedule claims in PostgreSQL ("task-bak"), apart from the schema's. */
const SCHEDULE_LOCK_KEY = '8386110885298741099';

export type ScheduledJob = 'backup' | 'retention';

/**
 * Claims one run of a job for this interval: true for exactly one server of a project (file store: under
 * the lock "schedule-<job>", a marker .task_orchestrator/backups/.schedule-<job>.json) or of a database
 * (an advisory lock and a row of the meta table), until the interval has passed since the last claim.
 */
export async function claimScheduledRun(project: OpenProject, job: ScheduledJob, intervalMs: number, now: Date): Promise<boolean> {
  if (project.team) {
    return project.team.db.transaction({ what: `claim the scheduled ${job}` }, async (sql) => {
      const { rows } = await sql.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1::bigint) AS locked', [SCHEDULE_LOCK_KEY]);
      if (!rows[0]!.locked) return false;
      const key = `schedule-${job}`;
      const last = await sql.query<{ value: { at: string } }>(`SELECT value FROM ${SCHEMA}.meta WHERE key = $1`, [key]);
      if (!isDue(last.rows[0]?.value.at, intervalMs, now)) return false;
      await sql.query(`INSERT INTO ${SCHEMA}.meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, { at: now.toISOString(), pid: process.pid }]);
      return true;
    });
  }
  const marker = path.join(backupsDir(project.layout), `.schedule-${job}.json`);
  return project.files!.locks.withLock(`schedule-${job}`, async () => {
    const last = await readFile(marker, 'utf8').then((t) => (JSON.parse(t) as { at?: string }).at, () => undefined);
    if (!isDue(last, intervalMs, now)) return false;
    await mkdir(path.dirname(marker), { recursive: true, mode: 0o700 });
    await writeFileDurable(marker, `${JSON.stringify({ at: now.toISOString(), pid: process.pid })}\n`);
    return true;
  });
}

function isDue(lastAt: string | undefined, intervalMs: number, now: Date): boolean {
  const last = lastAt ? Date.parse(lastAt) : Number.NaN;
  return !Number.isFinite(last) || now.getTime() - last >= intervalMs || last > now.getTime() + DAY_MS; // a marker from the future (a clock set back): due
}

/** One look: the scheduled backup and the daily retention run, each if due and claimed by this server. */
export async function runScheduledWork(project: OpenProject, logger: Logger, settings: SafetySettings, now = new Date()): Promise<{ backup: string | null; pruned: number | null }> {
  const state = stateOfProject(project, logger);
  const done: { backup: string | null; pruned: number | null } = { backup: null, pruned: null };
  const hours = settings.backup.intervalHours;
  if (hours > 0 && (await claimScheduledRun(project, 'backup', hours * 3_600_000, now))) {
    const result = await automaticBackup(state, project.layout, { reason: null, keep: settings.backup.keep });
    logger.info(`Scheduled backup written to ${result.file}`, { counts: result.manifest.counts, bytes: result.bytes });
    done.backup = result.file;
  }
  if (isRetentionOn(settings.retention) && (await claimScheduledRun(project, 'retention', DAY_MS, now))) {
    const preview = await pruneArchive({ store: project.store, state, layout: project.layout, logger }, settings.retention, { dryRun: true, now });
    if (preview.chosen.length) {
      await automaticBackup(state, project.layout, { reason: 'before-prune', keep: settings.backup.keep });
      done.pruned = (await pruneArchive({ store: project.store, state, layout: project.layout, logger }, settings.retention, { dryRun: false, now })).removed.length;
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
