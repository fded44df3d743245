import { OrchestratorError, unwrap } from '../domain/errors.js';
import { createHash } from 'node:crypto';
import { completeSubtask as applyCompletion, dependenciesSkippedByCompletion, nextRecommended, nextWorkFileNumber, progressOf, type Completion } from '../domain/lifecycle.js';
import { canonicalJson, checkIdempotencyKey, rememberReply, replayFor } from '../domain/idempotency.js';
import { checkCompletion, endLease, keepLostResults, type CompletionVerdict } from '../domain/leases.js';
import { LIMITS, textProblem } from '../domain/limits.js';
import type { ArtifactType, LostResults, NextAction, ParentTask, Progress } from '../domain/model.js';
import { agentOf, brief, locateSubtask, nowIso, subtaskOf, type AppContext } from './context.js';
import { recordingHistory } from './history.js';

export interface CompleteSubtaskRequest {
  task_id: unknown;
  parent_task_id?: unknown;
  results?: string;
  summary?: string;
  detailed_work?: string;
  artifacts?: string[] | string;
  file_paths?: string[];
  artifact_type?: ArtifactType;
  next_action?: NextAction;
  /** Complete a subtask that was never started although its dependencies are unfinished. */
  force?: boolean;
  /** The agent recording the results; this session when absent. */
  agent_id?: unknown;
  /** Makes retries of this call safe from any process: the same key and arguments get the first reply. */
  idempotency_key?: unknown;
}

export interface CompleteSubtaskResult {
  task_id: string;
  parent_task_id: string;
  status: string;
  results_recorded: true;
  already_recorded: boolean;
  detailed_work_file: string | null;
  parent_task_progress: Progress;
  parent_completed: boolean;
  next_recommended_task: { task_id: string; title: string; specialist_type: string } | null;
  /** The unfinished dependencies this call completed the subtask ahead of, with force. */
  forced_past_dependencies: string[];
  next_step: string;
  /** True when this is the stored reply to an earlier call with the same idempotency_key. */
  replayed?: boolean;
}

/** Detailed work longer than this goes to a file under .task_orchestrator/tasks/work/, so prompts and replies stay short. */
export const DETAILED_WORK_INLINE_LIMIT = 2_000;

/** complete_subtask: records results and applies next_action in one durable write; archives a finished parent. */
export async function completeSubtask(ctx: AppContext, request: CompleteSubtaskRequest): Promise<CompleteSubtaskResult> {
  const summary = (request.results ?? request.summary ?? '').trim();
  if (!summary) {
    throw new OrchestratorError('INVALID_INPUT', 'results (or summary) is missing or empty. Say what was done and found in a few sentences; put long output in detailed_work.');
  }
  const detailed = request.detailed_work?.trim() ?? '';
  checkCompletionText(summary, detailed, request);
  const agentId = agentOf(ctx, request.agent_id);
  const key = idempotencyOf(request);
  const { parentTaskId, taskId } = await locateSubtask(ctx, request.task_id, request.parent_task_id);
  const toFile = detailed.length > DETAILED_WORK_INLINE_LIMIT;
  const results = detailed && !toFile ? `${summary}\n\n${detailed}` : summary;
  const completion: Completion = {
    results,
    artifacts: artifactList(request),
    artifactType: request.artifact_type ?? null,
    nextAction: request.next_action ?? 'continue',
    detailedWorkFile: null,
    detailedWorkDigest: detailed ? sha256(detailed) : null,
    force: request.force === true,
    now: nowIso(ctx),
  };
  let reply: CompleteSubtaskResult | null = null;
  let lost: { verdict: Extract<CompletionVerdict, { kind: 'lost' }>; note: LostResults } | null = null;
  // Every decision (the replay of a retry, the lease, the transition) is taken on the file as it is
  // under the parent's lock, and its record written in the same atomic write.
  const parent = await ctx.store.update(parentTaskId, recordingHistory(ctx, taskId, agentId, async (current) => {
    // A store may run the change again (the PostgreSQL store, when a connection died before COMMIT): start clean.
    reply = null;
    lost = null;
    const now = ctx.clock.now();
    if (key) {
      const replay = unwrap(replayFor(current, key.keySha256, key.argsSha256, now));
      if (replay) {
        reply = { ...(replay as unknown as CompleteSubtaskResult), replayed: true };
        return current;
      }
    }
    const verdict = unwrap(checkCompletion(current, taskId, { agentId, now, isOwnerAlive: ctx.isOwnerAlive }));
    const saveWork = async () => (toFile ? ctx.store.saveDocument(parentTaskId, taskId, detailed, nextWorkFileNumber(subtaskOf(current, taskId))) : null);
    if (verdict.kind === 'lost') {
      const note: LostResults = { agent_id: agentId, at: now.toISOString(), next_action: completion.nextAction, results, detailed_work_file: null, artifacts: completion.artifacts };
      const kept = keepLostResults(current, taskId, note);
      lost = { verdict, note };
      if (kept === current || !toFile) return kept;
      // Long detailed work is kept in its own file, listed among the subtask's earlier work so no later one replaces it.
      const file = (await saveWork())!;
      lost.note = { ...note, detailed_work_file: file };
      return keepLostResults(withEarlierWork(current, taskId, file), taskId, lost.note);
    }
    let next = unwrap(applyCompletion(current, taskId, completion));
    const repeat = next === current;
    if (!repeat && toFile) {
      // Only a change that is valid gets its document written, so a refused call leaves nothing behind.
      next = unwrap(applyCompletion(current, taskId, { ...completion, detailedWorkFile: await saveWork() }));
    }
    next = endLease(current, next, taskId, agentId, now);
    const forcedPast = dependenciesSkippedByCompletion(current, subtaskOf(current, taskId), completion.nextAction).map((d) => d.task_id);
    reply = replyFor(next, parentTaskId, taskId, repeat, forcedPast);
    if (!key) return next;
    return rememberReply(next, { key_sha256: key.keySha256, args_sha256: key.argsSha256, at: now.toISOString(), task_id: taskId, reply: reply as unknown as Record<string, unknown> }, now);
  }));
  if (lost) throw leaseLost(parent, taskId, lost);
  const answer = reply as CompleteSubtaskResult | null;
  if (!answer) throw new Error(`complete_subtask on ${taskId} ended without a reply`);
  if (!answer.replayed) ctx.logger.info(`Subtask ${taskId} -> ${answer.status} (${completion.nextAction})`, { parent_task_id: parentTaskId, task_id: taskId, forced: answer.forced_past_dependencies.length > 0, agent_id: agentId });
  return answer;
}

/** The reply, computed from the parent as written: a retry with the same idempotency_key gets it again verbatim. */
function replyFor(parent: ParentTask, parentTaskId: string, taskId: string, alreadyRecorded: boolean, forcedPast: string[]): CompleteSubtaskResult {
  const subtask = subtaskOf(parent, taskId);
  const next = nextRecommended(parent, taskId);
  const parentCompleted = parent.status === 'completed';
  return {
    task_id: taskId,
    parent_task_id: parentTaskId,
    status: subtask.status,
    results_recorded: true,
    already_recorded: alreadyRecorded,
    detailed_work_file: subtask.detailed_work_file ?? null,
    parent_task_progress: progressOf(parent),
    parent_completed: parentCompleted,
    next_recommended_task: brief(next),
    forced_past_dependencies: forcedPast,
    next_step: nextStep(parentTaskId, parentCompleted, next?.task_id, subtask.status),
  };
}

/** The idempotency key of the call and the digest of its arguments (the key and the defaulted agent left out, so any process's retry matches). */
function idempotencyOf(request: CompleteSubtaskRequest): { keySha256: string; argsSha256: string } | null {
  const key = unwrap(checkIdempotencyKey(request.idempotency_key));
  if (key === null) return null;
  const { idempotency_key: _key, ...args } = request;
  return { keySha256: sha256(key), argsSha256: sha256(canonicalJson(args)) };
}

function leaseLost(parent: ParentTask, taskId: string, lost: { verdict: Extract<CompletionVerdict, { kind: 'lost' }>; note: LostResults }): OrchestratorError {
  const { verdict, note } = lost;
  const holder = verdict.holder ? `agent "${verdict.holder.agent_id}" holds it now (until ${verdict.holder.expires_at})` : `its status is now ${subtaskOf(parent, taskId).status}`;
  return new OrchestratorError(
    'LEASE_LOST',
    `The lease of agent "${note.agent_id}" on subtask ${taskId} expired at ${verdict.lost.expires_at} and was taken over or released at ${verdict.lost.lost_at}; ${holder}. These results were not applied, but they are not lost: they are kept on the subtask (lost_results) and returned here. Do not redo the work: tell the current holder, or execute the subtask again once it is free and complete it with them.`,
    { task_id: taskId, agent_id: note.agent_id, lost_at: verdict.lost.lost_at, holder: verdict.holder?.agent_id ?? null, holder_expires_at: verdict.holder?.expires_at ?? null, kept_results: note },
  );
}

function withEarlierWork(parent: ParentTask, taskId: string, file: string): ParentTask {
  return { ...parent, subtasks: parent.subtasks.map((s) => (s.task_id === taskId ? { ...s, earlier_work_files: [...(s.earlier_work_files ?? []), file] } : s)) };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Refuses, before anything is read or written, a text that is too long or not valid Unicode. */
function checkCompletionText(summary: string, detailed: string, request: CompleteSubtaskRequest): void {
  const artifacts = artifactList(request);
  const problems = [
    textProblem(request.results !== undefined ? 'results' : 'summary', summary, LIMITS.results, 'Keep it to what a later specialist must know; put long output (diffs, logs, analyses) in detailed_work, which is stored in a file.'),
    textProblem('detailed_work', detailed, LIMITS.detailedWork, 'Save the rest in the project and list the files in artifacts.'),
    textProblem('artifact_type', request.artifact_type ?? '', LIMITS.artifactType),
    artifacts.length > LIMITS.artifacts ? `artifacts has ${artifacts.length} entries; at most ${LIMITS.artifacts} are accepted. List the main files, or a folder.` : null,
    ...artifacts.map((a, i) => textProblem(`artifacts[${i}]`, a, LIMITS.artifact, 'Give a path or a short reference.')),
  ].filter((p): p is string => p !== null);
  if (problems.length) throw new OrchestratorError('INVALID_INPUT', `${problems.join(' ')} Nothing was recorded.`);
}

function artifactList(request: CompleteSubtaskRequest): string[] {
  const raw = [...(typeof request.artifacts === 'string' ? [request.artifacts] : (request.artifacts ?? [])), ...(request.file_paths ?? [])];
  return [...new Set(raw.map((a) => a.trim()).filter(Boolean))];
}

function nextStep(parentTaskId: string, parentCompleted: boolean, nextId: string | undefined, status: string): string {
  if (parentCompleted) return `All subtasks are completed and the task was archived. Call orchestrator_synthesize_results with parent_task_id "${parentTaskId}" for the final report.`;
  if (status === 'pending') return `The subtask went back to pending for revision: execute it again with orchestrator_execute_subtask.`;
  if (nextId) return `Call orchestrator_execute_subtask with task_id "${nextId}".`;
  return `No subtask is ready: the remaining ones are active, blocked or waiting on unfinished work. Call orchestrator_get_status with parent_task_id "${parentTaskId}" to see them.`;
}
