/** Small builders shared by the domain unit tests. */
import type { ParentTask, Subtask } from '../../src/domain/model.js';

export const NOW = '2025-06-01T12:00:00.000Z';
export const LATER = '2025-06-01T13:00:00.000Z';

export function subtask(id: string, fields: Partial<Subtask> = {}): Subtask {
  return {
    task_id: id,
    title: `Title of ${id}`,
    description: `Description of ${id}`,
    specialist_type: 'implementer',
    dependencies: [],
    estimated_effort: '',
    status: 'pending',
    results: null,
    artifacts: [],
    created_at: NOW,
    completed_at: null,
    ...fields,
  };
}

export function parentWith(subtasks: Subtask[], fields: Partial<ParentTask> = {}): ParentTask {
  return {
    version: '2.0',
    parent_task_id: 'task_0123456789',
    description: 'Build the thing',
    complexity: 'moderate',
    context: '',
    created_at: NOW,
    status: 'active',
    completed_at: null,
    subtasks,
    ...fields,
  };
}
