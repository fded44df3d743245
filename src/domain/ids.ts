import { fail, ok, type Check } from './errors.js';

/**
 * Task ids become file names, so they are checked before they get near the file system:
 * letters, digits, "_", "-" and ".", starting with a letter or digit, no "..", at most 128 characters.
 * This admits every id the Python orchestrator produced and nothing that can name another folder.
 */
const TASK_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function isValidTaskId(id: string): boolean {
  return TASK_ID_PATTERN.test(id) && !id.includes('..');
}

export function checkTaskId(id: unknown, field = 'task_id'): Check<string> {
  if (typeof id !== 'string' || id.trim() === '') {
    return fail('INVALID_TASK_ID', `${field} is missing or empty. Pass the id returned by orchestrator_plan_task (for example "task_3f9a2c1b7e.1").`);
  }
  const trimmed = id.trim();
  if (!isValidTaskId(trimmed)) {
    return fail(
      'INVALID_TASK_ID',
      `${field} "${truncate(trimmed, 80)}" is not a task id: ids use letters, digits, "_", "-" and "." only (no "/", "\\" or ".."). ` +
        'Use an id returned by orchestrator_plan_task or listed by orchestrator_get_status.',
      { [field]: truncate(trimmed, 200) },
    );
  }
  return ok(trimmed);
}

/** A parent id: "task_" and 10 hex digits. Uniqueness is guaranteed by an exclusive file create, not by chance. */
export function newParentTaskId(randomHex: (chars: number) => string): string {
  return `task_${randomHex(10)}`;
}

/** Subtask ids extend their parent's id, so they are unique in the store whenever the parent's is. */
export function subtaskIdFor(parentTaskId: string, position: number): string {
  return `${parentTaskId}.${position}`;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
