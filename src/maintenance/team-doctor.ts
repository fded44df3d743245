import type { Clock, HealthFinding, Maintenance, RepairOutcome, TaskStore } from '../app/ports.js';
import { leaseExpired } from '../domain/leases.js';
import { roleCatalogFrom } from '../roles/role-files.js';
import type { PostgresTaskStore } from '../store/postgres/postgres-task-store.js';
import { SCHEMA_VERSION } from '../store/postgres/schema.js';

/**
 * The health check and safe repairs of a team's database (doctor and orchestrator_maintenance in team
 * mode): the schema's version, rows that cannot be used, completed tasks not archived, expired leases,
 * and problems in the team's role files. Like the file doctor, nothing here deletes a task's data.
 */
export function teamMaintenance(store: PostgresTaskStore & TaskStore, clock: Clock): Maintenance {
  const findings = () => diagnoseTeam(store, clock);
  return { diagnose: findings, repair: async () => repairTeam(store, await findings()) };
}

export async function diagnoseTeam(store: PostgresTaskStore & TaskStore, clock: Clock): Promise<HealthFinding[]> {
  const database = store.db.label;
  const health = await store.health();
  const found: HealthFinding[] = [
    {
      kind: 'schema_version',
      severity: 'note',
      subject: database,
      message: `schema version ${health.schemaVersion} (this task-orchestrator knows up to ${SCHEMA_VERSION})`,
      meaning: 'Every server of the team keeps its tasks here; servers migrate the schema when they start.',
      remedy: 'Nothing to do.',
      fixable: false,
    },
  ];
  for (const problem of health.unusableRows) {
    found.push({ kind: problem.kind === 'unsupported_version' ? 'unsupported_row' : 'corrupt_row', severity: 'problem', subject: problem.file, message: `the row ${problem.reason}`, meaning: 'This task cannot be shown or changed; every other task works.', remedy: problem.action, fixable: false, parent_task_id: problem.parent_task_id ?? undefined });
  }
  for (const id of health.unarchived) {
    found.push({ kind: 'unarchived_parent', severity: 'problem', subject: `task ${id}`, message: 'every subtask is completed, but the task is still active', meaning: 'It is listed among the unfinished tasks (its row was edited by hand: servers archive in the commit that completes).', remedy: 'The repair (doctor --fix, or orchestrator_maintenance "repair") archives it.', fixable: true, parent_task_id: id });
  }
  found.push(...(await expiredLeases(store, clock)));
  found.push(...(await roleProblems(store)));
  return found;
}

async function expiredLeases(store: TaskStore, clock: Clock): Promise<HealthFinding[]> {
  const now = clock.now();
  const found: HealthFinding[] = [];
  for (const parent of (await store.statistics({ includeArchived: false })).withActiveSubtasks) {
    for (const s of parent.subtasks) {
      if (s.status !== 'active' || !s.lease || !leaseExpired(s.lease, now)) continue;
      found.push({ kind: 'expired_lease', severity: 'note', subject: `subtask ${s.task_id}`, message: `active, but the lease of ${s.lease.agent_id} expired at ${s.lease.expires_at}`, meaning: 'Its agent stopped working on it; any agent may execute it again and take it over.', remedy: 'orchestrator_maintenance "release_expired_leases" puts it back to pending.', fixable: false, parent_task_id: parent.parent_task_id });
    }
  }
  return found;
}

async function roleProblems(store: PostgresTaskStore): Promise<HealthFinding[]> {
  const files = await store.roleFiles();
  const catalog = await roleCatalogFrom(files);
  return catalog.errors.map((error) => ({ kind: 'role_file_error', severity: 'problem' as const, subject: `${store.db.label}, the team's role files`, message: error, meaning: 'The roles concerned fall back to their defaults on every server of the team.', remedy: 'Correct the project\'s role files, check them with "task-orchestrator roles", then replace the team\'s with "task-orchestrator roles --push".', fixable: false }));
}

/** Archives the completed tasks that were not (each re-checked under its row lock); nothing else is repaired here. */
export async function repairTeam(store: TaskStore, findings: HealthFinding[]): Promise<RepairOutcome[]> {
  const outcomes: RepairOutcome[] = [];
  for (const f of findings.filter((x) => x.fixable && x.kind === 'unarchived_parent')) {
    try {
      const done = await store.archiveIfComplete(f.parent_task_id!);
      outcomes.push({ kind: f.kind, subject: f.subject, done, action: done ? 'archived' : 'nothing to do any more (it changed meanwhile)' });
    } catch (error) {
      outcomes.push({ kind: f.kind, subject: f.subject, done: false, action: `not fixed: ${(error as Error).message}` });
    }
  }
  return outcomes;
}
