import type { HistoryEvent } from './history.js';

/**
 * The task model as stored on disk: a superset of the Python MCP Task Orchestrator v1 format.
 * Python files carry only the fields marked "v1"; everything else is optional so they keep loading.
 */

export const SUBTASK_STATUSES = ['pending', 'active', 'completed', 'blocked', 'failed'] as const;
export type SubtaskStatus = (typeof SUBTASK_STATUSES)[number];

export const COMPLEXITY_LEVELS = ['simple', 'moderate', 'complex', 'very_complex'] as const;
export type Complexity = (typeof COMPLEXITY_LEVELS)[number];

export const NEXT_ACTIONS = ['continue', 'needs_revision', 'blocked', 'complete'] as const;
export type NextAction = (typeof NEXT_ACTIONS)[number];

/** Kinds of artifacts complete_subtask accepts: the Python orchestrator's list. */
export const ARTIFACT_TYPES = ['code', 'documentation', 'analysis', 'design', 'test', 'config', 'general'] as const;
export type ArtifactType = (typeof ARTIFACT_TYPES)[number];

/** The format this server writes. "1.0" is the Python orchestrator's. */
export const CURRENT_FORMAT_VERSION = '2.0';
export const KNOWN_FORMAT_VERSIONS = ['1.0', '2.0'] as const;

/** Who marked a subtask active, so a later process can tell whether that work was interrupted. */
export interface ActiveOwner {
  pid: number;
  host: string;
  /** Random id of the server process instance (pids are reused). */
  instance: string;
  /** PID namespace (inode of /proc/self/ns/pid): the pid is checked only from the same one. Absent in older files. */
  pidns?: string | null;
  /** Boot id of the host (/proc/sys/kernel/random/boot_id). Absent in older files. */
  boot?: string | null;
}

/** An agent's claim on an active subtask: others are refused until it expires (README, "Leases"). */
export interface Lease {
  agent_id: string;
  /** ISO time. */
  expires_at: string;
}

/** A lease that ended without its holder completing: the holder's later complete_subtask gets LEASE_LOST. */
export interface LostLease {
  agent_id: string;
  expires_at: string;
  /** When another agent took the subtask over, or the lease was released. */
  lost_at: string;
}

/** What a holder sent after losing its lease: not applied, kept so that nothing is lost. */
export interface LostResults {
  agent_id: string;
  at: string;
  next_action: NextAction;
  results: string;
  detailed_work_file: string | null;
  artifacts: string[];
}

/** The first reply to a complete_subtask call with an idempotency_key, replayed to retries of that call. */
export interface IdempotencyRecord {
  /** sha256 of the key (any text the client chose). */
  key_sha256: string;
  /** sha256 of the call's arguments, key excluded: the same key with other arguments is a conflict. */
  args_sha256: string;
  at: string;
  task_id: string;
  reply: Record<string, unknown>;
}

export interface Subtask {
  /** v1: id unique in the store; what the assistant passes to execute/complete. */
  task_id: string;
  /** v1 */
  title: string;
  /** v1 */
  description: string;
  /** v1: a role name (built-in or custom). */
  specialist_type: string;
  /** v1: ids of subtasks of the same parent that must complete first. */
  dependencies: string[];
  /** v1: free text such as "2 hours". */
  estimated_effort: string;
  /** v1 */
  status: SubtaskStatus;
  /** v1: the results text (null until completed). */
  results: string | null;
  /** v1: file paths or other artifact references. */
  artifacts: string[];
  /** v1: ISO timestamp (Python wrote naive local timestamps). */
  created_at: string;
  /** v1 */
  completed_at: string | null;
  /** The assistant's own handle for this subtask in the plan (its `task_id` there). */
  handle?: string;
  /** When execute_subtask last marked it active. */
  started_at?: string | null;
  /** The process that marked it active; null when not active. */
  active_owner?: ActiveOwner | null;
  /** Kind of the artifacts (code, documentation, analysis, ...). */
  artifact_type?: string | null;
  /** Path, relative to .task_orchestrator/, of the file holding the latest long detailed work. */
  detailed_work_file?: string | null;
  /** Earlier detailed-work files of this subtask (attempts sent back or blocked), oldest first: none is orphaned. */
  earlier_work_files?: string[];
  /** sha256 of the detailed_work the last complete_subtask sent (null: none), so a retry is told from new material. */
  detailed_work_digest?: string | null;
  /** Results of earlier attempts sent back with next_action "needs_revision", oldest first. */
  revision_notes?: string[];
  /** Why it is blocked (next_action "blocked"). */
  blocked_reason?: string | null;
  /** Dependencies still unfinished when it was last started or completed with force: its work went ahead of them. */
  forced_past_dependencies?: string[];
  /** Last change of this subtask. */
  updated_at?: string;
  /** The agent working on it while active (null or absent otherwise). */
  lease?: Lease | null;
  /** Agents whose lease ended without their completion, newest last (bounded). */
  lost_leases?: LostLease[];
  /** Results those agents sent anyway, oldest first. */
  lost_results?: LostResults[];
}

export interface ParentTask {
  /** "1.0" (Python) or "2.0" (this server). */
  version: string;
  /** v1 */
  parent_task_id: string;
  /** v1 */
  description: string;
  /** v1 */
  complexity: Complexity;
  /** v1 */
  context: string;
  /** v1 */
  created_at: string;
  /** v1 */
  subtasks: Subtask[];
  /** A short title derived from the description, for listings. */
  title?: string;
  /** "completed" once every subtask is completed (then it is archived). */
  status?: 'active' | 'completed';
  /** When the last subtask completed. */
  completed_at?: string | null;
  /** Last change of anything in this file. */
  updated_at?: string;
  /** Incremented on every write; lets readers and tests detect lost updates. */
  revision?: number;
  /** sha256 of the idempotency_key of the plan_task call that created it. */
  plan_key_sha256?: string;
  /** Replies to recent complete_subtask calls with an idempotency_key (pruned by age and count). */
  idempotency?: IdempotencyRecord[];
  /** Every transition, oldest first (domain/history.ts); absent in files written before it was kept. */
  history?: HistoryEvent[];
}

export interface Progress {
  parent_task_id: string;
  completed_subtasks: number;
  total_subtasks: number;
  progress_percentage: number;
}

export type StatusCounts = Record<SubtaskStatus, number>;
