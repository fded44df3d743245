import type { ActiveOwner, Lease, ParentTask, StatusCounts, SubtaskStatus } from '../domain/model.js';
import type { ResolvedRole, Role } from '../domain/roles.js';

/** A stored parent as listings see it: enough to count, filter and page without reading its file. */
export interface ParentSummary {
  parent_task_id: string;
  title: string;
  /** The start of the description; empty for archived parents, which are indexed by the thousand. */
  description: string;
  location: 'active' | 'archive';
  status: 'active' | 'completed';
  created_at: string;
  updated_at: string;
  subtasks: { task_id: string; title: string; status: SubtaskStatus; specialist_type: string; active_owner: ActiveOwner | null; lease: Lease | null }[];
  /**
   * Set when the parent is stored encrypted: the key of its texts. Its title, description (then whole,
   * not a start) and subtask titles are envelopes, opened by the encrypting store (src/store/encrypting-task-store.ts).
   */
  encryption_key_id?: string;
}

/** Aggregates the index keeps up to date, so status queries need not visit every subtask. */
export interface StoreStatistics {
  /** Subtasks per status over the parents considered. */
  counts: StatusCounts;
  parents: { active: number; archived: number };
  /** Parents with at least one subtask marked active (maybe interrupted), most recent first. */
  withActiveSubtasks: ParentSummary[];
}

/** A task file that could not be used: kept where it is, reported until someone fixes it. */
export interface StoreProblem {
  file: string;
  parent_task_id: string | null;
  /** not_a_file: a link, named pipe or folder where a task file belongs (never opened); unreadable: a read that failed (EMFILE, EACCES). */
  kind: 'corrupt' | 'unsupported_version' | 'misplaced' | 'not_a_file' | 'unreadable';
  reason: string;
  action: string;
}

/** What a plan_task idempotency key stands for, shared by every process (README, "Idempotency keys"). */
export interface PlanKeyRecord {
  /** sha256 of the call's arguments: the same key with other arguments is a conflict. */
  args_sha256: string;
  /** The parent the call creates (or created): chosen before it exists, so a crash in between is finished by the retry. */
  parent_task_id: string;
  at: string;
}

/**
 * The storage port. The file store (.task_orchestrator/) and the PostgreSQL store (team mode) implement it;
 * every change happens under the parent's lock (a lock file, or the row's lock in one transaction).
 */
export interface TaskStore {
  /** The folder cannot be written: reads work, every change is refused with STORAGE_ERROR. */
  readonly readOnly: boolean;
  /** Stores a new parent, calling `build` with a fresh id that is unique in the store. */
  create(build: (parentTaskId: string) => ParentTask): Promise<ParentTask>;
  /** A parent id that no stored parent uses. */
  newParentId(): Promise<string>;
  /**
   * The record of a plan_task idempotency key (by its sha256): the one stored, else `proposed`, stored
   * durably now. One record per key across processes, never replaced; records older than a day are swept.
   */
  reservePlanKey(keySha256: string, proposed: PlanKeyRecord): Promise<PlanKeyRecord>;
  /** Stores a new parent under the id it carries, unless one with that id exists: then that one, unchanged. */
  createWithId(parent: ParentTask): Promise<{ parent: ParentTask; created: boolean }>;
  /**
   * Stores a parent as it is (an import or a copy from another store), active or archived, unless its id
   * is taken in either: then false and nothing is written. Never overwrites.
   */
  importParent(parent: ParentTask, location: 'active' | 'archive'): Promise<boolean>;
  /** Reads the current version of a parent (active or archived). */
  read(parentTaskId: string): Promise<ParentTask>;
  /**
   * Read-modify-write under the parent's lock. `change` returns the new parent, or the same object
   * for "nothing to do"; a thrown error leaves the file untouched. Completed parents are archived.
   * `change` may be called more than once (the PostgreSQL store runs the transaction again after a
   * dead connection or a deadlock): it decides from the parent it is given, and only the last call counts.
   */
  update(parentTaskId: string, change: (parent: ParentTask) => ParentTask | Promise<ParentTask>): Promise<ParentTask>;
  /** Which folder holds a parent now, or null when neither does. */
  locationOf(parentTaskId: string): Promise<'active' | 'archive' | null>;
  /** Archives a completed parent still in tasks/active/; false when there was nothing to do. */
  archiveIfComplete(parentTaskId: string): Promise<boolean>;
  /** The parent holding a subtask id (and, for ids reused across Python-era files, all of them). */
  parentsOfSubtask(subtaskId: string): Promise<string[]>;
  /**
   * Summaries of stored parents, most recently updated first; archived ones only when asked. Kept
   * coherent with other processes. The array may be shared between calls: do not modify it.
   */
  list(options: { includeArchived: boolean }): Promise<ParentSummary[]>;
  /** Counts per status and the parents with active subtasks, over the same parents as list(). */
  statistics(options: { includeArchived: boolean }): Promise<StoreStatistics>;
  /** Task files (or rows) that could not be used, as of the last look: list() and statistics() look again. */
  problems(): StoreProblem[];
  /**
   * Stores a long text (a subtask's detailed work) durably as the subtask's document number `number`;
   * returns its path relative to .task_orchestrator/. Called under the parent's lock, with a number no
   * stored document uses yet, so writing it again (a retry after a crash) replaces only an unreferenced file.
   */
  saveDocument(parentTaskId: string, subtaskId: string, text: string, number: number): Promise<string>;
  /**
   * Deletes archived, completed parents and their documents (retention, after they were backed up).
   * Every id is checked first: one that is not an archived, completed parent refuses the whole call with
   * INVALID_INPUT and nothing deleted. Returns the ids deleted (one already gone is left out).
   */
  removeArchived(parentTaskIds: readonly string[]): Promise<string[]>;
  /** A document saveDocument stored, by the path it returned (what detailed_work_file names); null when there is none. */
  readDocument(path: string): Promise<string | null>;
  close(): Promise<void>;
}

export interface RoleCatalog {
  roles: ReadonlyMap<string, ResolvedRole>;
  orchestrator: Role;
  /** Problems in role files; the affected roles fall back to their defaults. */
  errors: readonly string[];
  /** The prompt template for a role: roles/templates/<role>.md, else specialist_prompt.md, else built in. */
  templateFor(role: string): string | undefined;
}

export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export interface Clock {
  now(): Date;
}

/** One thing the health check (the findings of `task-orchestrator doctor`) found. */
export interface HealthFinding {
  kind: string;
  /** Problems need attention; notes are for information. */
  severity: 'problem' | 'note';
  /** The file or folder concerned, relative to .task_orchestrator/ when inside it. */
  subject: string;
  message: string;
  meaning: string;
  remedy: string;
  /** Whether the safe repairs ("doctor --fix", maintenance "repair") fix it. */
  fixable: boolean;
  parent_task_id?: string;
}

export interface RepairOutcome {
  kind: string;
  subject: string;
  done: boolean;
  action: string;
}

/** The store's health check and safe repairs, as doctor and doctor --fix make them. Neither deletes task data. */
export interface Maintenance {
  /** Looks at .task_orchestrator/ without changing anything. */
  diagnose(): Promise<HealthFinding[]>;
  /** Makes the safe repairs of what diagnose finds fixable (each re-checked first); returns what was done. */
  repair(): Promise<RepairOutcome[]>;
}
