import type { ParentTask, Subtask } from './model.js';
import type { Role } from './roles.js';

/**
 * The specialist prompt. A user reshapes it with roles/templates/specialist_prompt.md (all roles)
 * or roles/templates/<role>.md (one role); `{{placeholder}}` names are listed in TEMPLATE_PLACEHOLDERS.
 * A placeholder with nothing to say is empty, and a line or paragraph whose placeholders are all
 * empty is left out, so the prompt carries no "none" filler.
 */
export const TEMPLATE_PLACEHOLDERS: Readonly<Record<string, string>> = {
  role_name: 'the role, e.g. "architect"',
  role_definition: 'the role\'s one-sentence definition',
  expertise: 'the role\'s expertise as a bulleted list',
  approach: 'the role\'s approach as a numbered list',
  output_format: 'what the role\'s answer should look like',
  parent_task_id: 'the id of the parent task',
  parent_description: 'the overall goal',
  parent_context: 'the context given when the task was planned (empty if none)',
  task_id: 'the subtask\'s id',
  subtask_title: 'the subtask\'s title',
  subtask_description: 'the subtask\'s description',
  estimated_effort: 'the estimated effort (empty if not estimated)',
  dependency_results: 'the results of the subtasks this one depends on (empty if it has none)',
  revision_notes: 'results of earlier attempts that were sent back for revision (empty if none)',
  report_instructions: 'how to report back with orchestrator_complete_subtask',
};

export const DEFAULT_PROMPT_TEMPLATE = `# {{role_name}}: {{subtask_title}}

{{role_definition}}.

## Your expertise
{{expertise}}

## Your approach
{{approach}}

## Overall goal ({{parent_task_id}})
{{parent_description}}

Context: {{parent_context}}

## Results of the work this depends on
{{dependency_results}}

## Your subtask ({{task_id}})
{{subtask_description}}

Estimated effort: {{estimated_effort}}

Earlier attempts sent back for revision: {{revision_notes}}

## Expected output
{{output_format}}

## When you are done
{{report_instructions}}
`;

export interface PromptInput {
  roleName: string;
  role: Role;
  parent: ParentTask;
  subtask: Subtask;
  template?: string;
}

const PLACEHOLDER = /\{\{\s*([a-z_]+)\s*\}\}/g;

export function renderSpecialistPrompt(input: PromptInput): string {
  const values = promptValues(input);
  return withoutEmptyParts(input.template ?? DEFAULT_PROMPT_TEMPLATE, values).replace(PLACEHOLDER, (whole, name: string) => values[name] ?? whole);
}

/**
 * Leaves out each paragraph, then each line, whose placeholders would all be filled with nothing
 * (a heading and its empty body go together). Text without placeholders is always kept.
 */
function withoutEmptyParts(template: string, values: Readonly<Record<string, string>>): string {
  const allEmpty = (text: string) => {
    const known = [...text.matchAll(PLACEHOLDER)].map((m) => m[1]!).filter((name) => name in values);
    return known.length > 0 && known.every((name) => values[name] === '');
  };
  // Splitting on a captured separator keeps each paragraph's own blank lines (and \r\n) as they were.
  const parts = template.split(/(\r?\n[ \t]*\r?\n)/);
  const kept: string[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    const paragraph = parts[i]!;
    if (allEmpty(paragraph)) continue;
    if (kept.length > 0) kept.push(parts[i - 1]!);
    kept.push(
      paragraph
        .split('\n')
        .filter((line) => !allEmpty(line))
        .join('\n'),
    );
  }
  return kept.join('');
}

function promptValues({ roleName, role, parent, subtask }: PromptInput): Record<string, string> {
  return {
    role_name: roleName,
    role_definition: role.role_definition.replace(/\.$/, ''),
    expertise: bullets(role.expertise),
    approach: role.approach.map((line, i) => `${i + 1}. ${line}`).join('\n'),
    output_format: role.output_format,
    parent_task_id: parent.parent_task_id,
    parent_description: parent.description,
    parent_context: parent.context.trim(),
    task_id: subtask.task_id,
    subtask_title: subtask.title,
    subtask_description: subtask.description,
    estimated_effort: subtask.estimated_effort.trim(),
    dependency_results: dependencyResults(parent, subtask),
    revision_notes: subtask.revision_notes?.length ? `\n${bullets(subtask.revision_notes)}` : '',
    report_instructions: reportInstructions(subtask),
  };
}

function dependencyResults(parent: ParentTask, subtask: Subtask): string {
  if (subtask.dependencies.length === 0) return '';
  return subtask.dependencies
    .map((id) => {
      const dep = parent.subtasks.find((s) => s.task_id === id);
      if (!dep) return `### ${id}\n(missing from the plan)`;
      const body = dep.status === 'completed' ? (dep.results ?? '(completed without results)') : `(not completed yet: ${dep.status})`;
      const extra = dep.detailed_work_file ? `\nDetailed work: .task_orchestrator/${dep.detailed_work_file}` : '';
      return `### ${dep.title} (${dep.specialist_type}, ${dep.task_id})\n${body}${extra}`;
    })
    .join('\n\n');
}

function reportInstructions(subtask: Subtask): string {
  return [
    `Call orchestrator_complete_subtask with task_id "${subtask.task_id}" and:`,
    '- summary (or results): what you did and found, in a few sentences;',
    '- detailed_work (optional): the full work product, stored in a file so replies stay short;',
    '- artifacts (optional): paths of files you created or changed;',
    '- next_action: "continue" when done, "needs_revision" if it must be redone, "blocked" (with the reason as summary) if you cannot proceed.',
  ].join('\n');
}

function bullets(lines: readonly string[]): string {
  return lines.length ? lines.map((line) => `- ${line}`).join('\n') : '';
}
