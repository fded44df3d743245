import { OrchestratorError, unwrap } from '../domain/errors.js';
import { createHash } from 'node:crypto';
import { completeSubtask as applyCompletion, dependenciesSkippedByCompletion, nextRecommended, nextWorkFileNumber, progressOf, type Completion } from '../domain/lifecycle.js';
import { LIMITS, textProblem } from '../domain/limits.js';
import type { ArtifactType, NextAction, Progress } from '../domain/model.js';
import { recordingHistory } from './history.js';
import { brief, locateSubtask, nowIso, subtaskOf, type AppContext } from './context.js';

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
  const { parentTaskId, taskId } = await locateSubtask(ctx, request.task_id, request.parent_task_id);
  const toFile = detailed.length > DETAILED_WORK_INLINE_LIMIT;
  const results = detailed && !toFile ? `${summary}\n\n${detailed}` : summary;
  const completion: Completion = {
    results,
    artifacts: artifactList(request),
    artifactType: request.artifact_type ?? null,
    nextAction: request.next_action ?? 'continue',
    detailedWorkFile: null,
    detailedWorkDigest: detailed ? createHash('sha256').update(detailed).digest('hex') : null,
    force: request.force === true,
    now: nowIso(ctx),
  };
  let alreadyRecorded = false;
  let forcedPast: string[] = [];
  const parent = await ctx.store.update(parentTaskId, recordingHistory(ctx, taskId, async (current) => {
    const next = unwrap(applyCompletion(current, taskId, completion));
    forcedPast = dependenciesSkippedByCompletion(current, subtaskOf(current, taskId), completion.nextAction).map((d) => d.task_id);
    alreadyRecorded = next === current;
    if (alreadyRecorded || !toFile) return next;
    // Only a change that is valid gets its document written, so a refused call leaves nothing behind.
    const detailedWorkFile = await ctx.store.saveDocument(parentTaskId, taskId, detailed, nextWorkFileNumber(subtaskOf(current, taskId)));
    return unwrap(applyCompletion(current, taskId, { ...completion, detailedWorkFile }));
  }));
  const nextAction = completion.nextAction;
  const subtask = subtaskOf(parent, taskId);
  const progress = progressOf(parent);
  const next = nextRecommended(parent, taskId);
  const parentCompleted = parent.status === 'completed';
  ctx.logger.info(`Subtask ${taskId} -> ${subtask.status} (${nextAction})`, { parent_task_id: parentTaskId, task_id: taskId, forced: forcedPast.length > 0 });
  return {
    task_id: taskId,
    parent_task_id: parentTaskId,
    status: subtask.status,
    results_recorded: true,
    already_recorded: alreadyRecorded,
    detailed_work_file: subtask.detailed_work_file ?? null,
    parent_task_progress: progress,
    parent_completed: parentCompleted,
    next_recommended_task: brief(next),
    forced_past_dependencies: forcedPast,
    next_step: nextStep(parentTaskId, parentCompleted, next?.task_id, subtask.status),
  };
}

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
