import { COMPLEXITY_LEVELS, CURRENT_FORMAT_VERSION, type Complexity, type ParentTask, type Subtask } from './model.js';
import { fail, ok, type Check, type ErrorCode } from './errors.js';
import { subtaskIdFor, truncate } from './ids.js';
import { LIMITS, textProblem } from './limits.js';

export interface PlanRequest {
  description: unknown;
  subtasks?: unknown;
  subtasks_json?: unknown;
  complexity_level?: unknown;
  context?: unknown;
}

export interface ValidPlan {
  parent: ParentTask;
  /** Subtask ids in an order that respects every dependency. */
  executionOrder: string[];
}

interface PlanItem {
  handle: string;
  title: string;
  description: string;
  specialist_type: string;
  dependencies: string[];
  estimated_effort: string;
}

interface Problem {
  code: ErrorCode;
  text: string;
}

export const MAX_SUBTASKS = 200;

/**
 * Checks a whole plan before anything is stored and builds the parent task from it.
 * Every problem found is reported at once, so the assistant can fix the plan in one retry.
 */
export function validatePlan(request: PlanRequest, knownRoles: ReadonlySet<string>, parentTaskId: string, now: string): Check<ValidPlan> {
  const description = typeof request.description === 'string' ? request.description.trim() : '';
  if (!description) return fail('INVALID_INPUT', 'description is missing or empty. Describe the overall goal in one or two sentences.');
  const descriptionProblem = textProblem('description', description, LIMITS.description, 'Keep the goal short; put background in context.');
  if (descriptionProblem) return fail('INVALID_INPUT', descriptionProblem);
  const complexity = readComplexity(request.complexity_level);
  if (!complexity.ok) return complexity;
  const context = request.context === undefined || request.context === null ? '' : String(request.context);
  const contextProblem = textProblem('context', context, LIMITS.context, 'Summarize it, and point to files in the project for the details.');
  if (contextProblem) return fail('INVALID_INPUT', contextProblem);
  const raw = readSubtaskList(request);
  if (!raw.ok) return raw;

  const problems: Problem[] = [];
  const items = raw.value.map((entry, index) => readItem(entry, index, knownRoles, problems));
  items.forEach((item, index) => checkItemText(item, index, problems));
  checkHandles(items, problems);
  resolveDependencies(items, problems);
  if (problems.length > 0) return reportProblems(problems);

  const idByHandle = new Map(items.map((item, index) => [item.handle, subtaskIdFor(parentTaskId, index + 1)]));
  const subtasks = items.map((item) => toSubtask(item, idByHandle, now));
  const parent: ParentTask = {
    version: CURRENT_FORMAT_VERSION,
    parent_task_id: parentTaskId,
    title: titleFrom(description),
    description,
    complexity: complexity.value,
    context,
    created_at: now,
    updated_at: now,
    status: 'active',
    completed_at: null,
    revision: 1,
    subtasks,
  };
  return ok({ parent, executionOrder: topologicalOrder(subtasks) });
}

function readComplexity(value: unknown): Check<Complexity> {
  if (value === undefined || value === null || value === '') return ok('moderate');
  const normalised = String(value).trim().toLowerCase().replace(/[\s-]+/g, '_');
  if ((COMPLEXITY_LEVELS as readonly string[]).includes(normalised)) return ok(normalised as Complexity);
  return fail('INVALID_INPUT', `complexity_level "${truncate(String(value), 40)}" is not one of ${COMPLEXITY_LEVELS.join(', ')}. Pick one of those or leave it out (default: moderate).`);
}

function readSubtaskList(request: PlanRequest): Check<unknown[]> {
  const hasArray = request.subtasks !== undefined && request.subtasks !== null;
  const hasJson = request.subtasks_json !== undefined && request.subtasks_json !== null && request.subtasks_json !== '';
  if (hasArray && hasJson) return fail('INVALID_INPUT', 'Both subtasks and subtasks_json were given. Pass the list once: subtasks (an array) is preferred.');
  if (!hasArray && !hasJson) return fail('INVALID_PLAN', 'The plan has no subtasks. Pass subtasks: an array of {title, description, specialist_type, task_id?, dependencies?, estimated_effort?}.');
  let list: unknown = request.subtasks;
  if (hasJson) {
    if (typeof request.subtasks_json !== 'string') return fail('INVALID_INPUT', 'subtasks_json must be a string holding a JSON array. Pass the array itself as subtasks instead.');
    try {
      list = JSON.parse(request.subtasks_json);
    } catch (error) {
      return fail('INVALID_PLAN', `subtasks_json is not valid JSON (${(error as Error).message}). Pass a JSON array of subtask objects, or pass the array itself as subtasks.`);
    }
  }
  if (!Array.isArray(list)) return fail('INVALID_PLAN', 'subtasks must be an array of subtask objects, not ' + describeType(list) + '.');
  if (list.length === 0) return fail('INVALID_PLAN', 'The plan has no subtasks. Break the task into at least one subtask.');
  if (list.length > MAX_SUBTASKS) return fail('INVALID_PLAN', `The plan has ${list.length} subtasks; at most ${MAX_SUBTASKS} are accepted. Group the work into larger subtasks or plan it as several parent tasks.`);
  return ok(list);
}

function readItem(entry: unknown, index: number, knownRoles: ReadonlySet<string>, problems: Problem[]): PlanItem {
  const where = `subtasks[${index}]`;
  const item = (typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? entry : {}) as Record<string, unknown>;
  if (item !== entry) problems.push({ code: 'INVALID_PLAN', text: `${where} is ${describeType(entry)}; each subtask must be an object with title, description and specialist_type.` });
  const title = textField(item.title);
  const description = textField(item.description) || title;
  if (!title && item === entry) problems.push({ code: 'INVALID_PLAN', text: `${where} has no title. Give every subtask a short title.` });
  const role = textField(item.specialist_type ?? item.specialist).toLowerCase();
  if (!role && item === entry) {
    problems.push({ code: 'INVALID_PLAN', text: `${where} ("${truncate(title, 40)}") has no specialist_type. Use one of: ${[...knownRoles].join(', ')}.` });
  } else if (role && !knownRoles.has(role)) {
    problems.push({ code: 'UNKNOWN_ROLE', text: `${where} ("${truncate(title, 40)}") has specialist_type "${truncate(role, 40)}", which is not a known role. Use one of: ${[...knownRoles].join(', ')}, or define it in .task_orchestrator/roles/custom_roles.yaml.` });
  }
  const dependencies = readDependencies(item.dependencies, where, problems);
  const handle = textField(item.task_id ?? item.id) || `#${index + 1}`;
  return { handle, title, description, specialist_type: role, dependencies, estimated_effort: textField(item.estimated_effort) };
}

function checkItemText(item: PlanItem, index: number, problems: Problem[]): void {
  const where = `subtasks[${index}]`;
  const fields: [string, string, number, string][] = [
    ['title', item.title, LIMITS.title, 'Use a short title; details go in description.'],
    ['description', item.description, LIMITS.subtaskDescription, 'Point to files in the project for long specifications.'],
    ['estimated_effort', item.estimated_effort, LIMITS.estimatedEffort, 'Use a rough figure such as "2 hours".'],
    ['task_id', item.handle, LIMITS.handle, 'Use a short handle such as "design".'],
    ...item.dependencies.map((dep, i): [string, string, number, string] => [`dependencies[${i}]`, dep, LIMITS.handle, '']),
  ];
  for (const [field, value, max, hint] of fields) {
    const problem = textProblem(`${where}.${field}`, value, max, hint);
    if (problem) problems.push({ code: 'INVALID_INPUT', text: problem });
  }
}

function readDependencies(value: unknown, where: string, problems: Problem[]): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((dep) => typeof dep === 'string' || typeof dep === 'number')) {
    problems.push({ code: 'INVALID_PLAN', text: `${where}.dependencies must be an array of strings, each the task_id or the title of another subtask in this plan.` });
    return [];
  }
  return [...new Set(value.map((dep) => String(dep).trim()))];
}

function checkHandles(items: PlanItem[], problems: Problem[]): void {
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    const first = seen.get(item.handle);
    if (first !== undefined) {
      problems.push({ code: 'DUPLICATE_TASK_ID', text: `subtasks[${index}] reuses task_id "${truncate(item.handle, 60)}" already given to subtasks[${first}]. Give each subtask its own task_id.` });
    } else {
      seen.set(item.handle, index);
    }
  });
}

/**
 * Turns each dependency into the handle of the subtask it names, in place, and checks the graph.
 * A dependency names a subtask by its task_id handle or, when no handle matches, by its title.
 */
function resolveDependencies(items: PlanItem[], problems: Problem[]): void {
  const before = problems.length;
  const resolve = dependencyResolver(items);
  items.forEach((item, index) => {
    const resolved = item.dependencies.map((dep) => {
      const match = resolve(dep);
      if (match.kind === 'unknown') problems.push({ code: 'UNKNOWN_DEPENDENCY', text: `subtasks[${index}] ("${truncate(item.title, 40)}") depends on "${truncate(dep, 60)}", which is neither the task_id nor the title of a subtask in this plan. Known task_ids: ${items.map((i) => i.handle).join(', ')}.` });
      if (match.kind === 'ambiguous') {
        const holders = match.indexes.map((i) => `subtasks[${i}] (task_id "${truncate(items[i]!.handle, 60)}")`).join(', ');
        problems.push({ code: 'AMBIGUOUS_DEPENDENCY', text: `subtasks[${index}] ("${truncate(item.title, 40)}") depends on "${truncate(dep, 60)}", the title of ${match.indexes.length} subtasks: ${holders}. Name the one you mean by its task_id.` });
      }
      return match.kind === 'found' ? match.handle : dep;
    });
    item.dependencies = [...new Set(resolved)];
  });
  // A cycle through a missing or doubled handle would only confuse: report those first.
  if (problems.length > before || problems.some((p) => p.code === 'DUPLICATE_TASK_ID')) return;
  const cycle = findCycle(new Map(items.map((item) => [item.handle, item.dependencies])));
  if (cycle) problems.push({ code: 'DEPENDENCY_CYCLE', text: `The dependencies form a cycle: ${cycle.join(' -> ')}. Remove one of these dependencies so that the work can start somewhere.` });
}

export type DependencyMatch = { kind: 'found'; handle: string } | { kind: 'unknown' } | { kind: 'ambiguous'; indexes: number[] };

/**
 * Finds the subtask a dependency names. A task_id handle matches exactly and wins; otherwise the
 * dependency is compared with every title by titleKey. A title shared by several subtasks names
 * none of them: the caller must use a handle.
 */
export function dependencyResolver(items: readonly { handle: string; title: string }[]): (dependency: string) => DependencyMatch {
  const handles = new Set(items.map((item) => item.handle));
  const byTitle = new Map<string, number[]>();
  items.forEach((item, index) => {
    const key = titleKey(item.title);
    if (key) byTitle.set(key, [...(byTitle.get(key) ?? []), index]);
  });
  return (dependency) => {
    if (handles.has(dependency)) return { kind: 'found', handle: dependency };
    const indexes = byTitle.get(titleKey(dependency)) ?? [];
    if (indexes.length === 1) return { kind: 'found', handle: items[indexes[0]!]!.handle };
    return indexes.length === 0 ? { kind: 'unknown' } : { kind: 'ambiguous', indexes };
  };
}

/**
 * Titles match ignoring case, spaces at either end and how many spaces separate words: a model
 * retyping "Design the API" as "design the  API" means the same subtask. Nothing else is loosened.
 */
export function titleKey(title: string): string {
  return title.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** Depth-first search for a cycle; returns it as a path that ends where it starts, or null. */
export function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'visiting') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'visiting');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    path.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    const found = visit(node);
    if (found) return found;
  }
  return null;
}

/** Kahn's algorithm, taking ready subtasks in plan order so the result is stable and readable. */
export function topologicalOrder(subtasks: readonly Pick<Subtask, 'task_id' | 'dependencies'>[]): string[] {
  const ids = new Set(subtasks.map((s) => s.task_id));
  const remaining = new Map(subtasks.map((s) => [s.task_id, s.dependencies.filter((d) => ids.has(d))]));
  const order: string[] = [];
  while (remaining.size > 0) {
    const ready = [...remaining].find(([, deps]) => deps.every((d) => !remaining.has(d)));
    if (!ready) break; // a cycle in stored data: leave the rest out rather than loop forever
    order.push(ready[0]);
    remaining.delete(ready[0]);
  }
  return order;
}

function toSubtask(item: PlanItem, idByHandle: ReadonlyMap<string, string>, now: string): Subtask {
  return {
    task_id: idByHandle.get(item.handle)!,
    handle: item.handle,
    title: item.title,
    description: item.description,
    specialist_type: item.specialist_type,
    dependencies: item.dependencies.map((dep) => idByHandle.get(dep)!),
    estimated_effort: item.estimated_effort,
    status: 'pending',
    results: null,
    artifacts: [],
    created_at: now,
    completed_at: null,
    updated_at: now,
  };
}

function reportProblems(problems: Problem[]): Check<never> {
  const first = problems[0]!;
  const text = problems.length === 1 ? first.text : `The plan has ${problems.length} problems:\n- ${problems.map((p) => p.text).join('\n- ')}`;
  return fail(first.code, `${text}\nNothing was stored; send the corrected plan again.`, { problems: problems.map((p) => ({ code: p.code, message: p.text })) });
}

function textField(value: unknown): string {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number') return String(value);
  return '';
}

export function titleFrom(description: string): string {
  const firstLine = description.split('\n')[0]!.trim();
  return truncate(firstLine, 100);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
