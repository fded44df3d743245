/**
 * The orchestration `task-orchestrator demo` plays: what an assistant would send for a small,
 * realistic piece of work. The ids come from the server's replies, so each step is a function of them.
 */

export interface PlannedIds {
  parent: string;
  /** The server's subtask id for each handle of the plan. */
  byHandle: Record<string, string>;
}

export interface DemoStep {
  title: string;
  tool: string;
  args: (ids: PlannedIds) => Record<string, unknown>;
  /** The demo shows a refusal on purpose: that step must be refused, every other must succeed. */
  refused?: boolean;
  /** A line of narration after the reply: what the assistant does next. */
  then?: string;
}

export const DEMO_PLAN = {
  description: 'Add CSV export to the reports page',
  context: 'TypeScript web app; reports are rendered by src/reports/ReportPage.tsx from GET /api/reports/:id',
  complexity_level: 'moderate',
  subtasks: [
    { task_id: 'design', title: 'Design the export', description: 'Choose the columns, the encoding and the endpoint for CSV downloads', specialist_type: 'architect', estimated_effort: '30 minutes' },
    { task_id: 'build', title: 'Implement the export', description: 'Add the CSV endpoint and an Export button on the reports page', specialist_type: 'implementer', dependencies: ['design'], estimated_effort: '2 hours' },
    { task_id: 'test', title: 'Test the export', description: 'Cover escaping, empty reports and large reports', specialist_type: 'tester', dependencies: ['build'], estimated_effort: '1 hour' },
  ],
};

const execute = (handle: string, title: string, role: string, then: string): DemoStep => ({
  title,
  tool: 'orchestrator_execute_subtask',
  args: (ids) => ({ task_id: ids.byHandle[handle] }),
  then: `(the assistant now works as the ${role}: ${then}, then reports back)`,
});

const complete = (handle: string, title: string, report: Record<string, unknown>): DemoStep => ({
  title,
  tool: 'orchestrator_complete_subtask',
  args: (ids) => ({ task_id: ids.byHandle[handle], ...report }),
});

export const DEMO_STEPS: DemoStep[] = [
  { title: 'Start a session: the guidance, the roles, any unfinished work', tool: 'orchestrator_initialize_session', args: () => ({}) },
  { title: 'Plan: three subtasks for three roles, each waiting for the one before', tool: 'orchestrator_plan_task', args: () => DEMO_PLAN },
  {
    title: 'A call the server refuses: implementing before the design is done',
    tool: 'orchestrator_execute_subtask',
    args: (ids) => ({ task_id: ids.byHandle.build }),
    refused: true,
    then: '(the assistant follows the advice and starts with the design)',
  },
  execute('design', 'Start the design: the architect\'s prompt', 'architect', 'it reads the code and writes a design note'),
  complete('design', 'Report the design back', {
    summary: 'One CSV per report: a header row, then one row per report line; UTF-8 with a byte order mark so Excel opens it. GET /api/reports/:id/export.csv streams the rows.',
    artifacts: ['docs/adr/0007-csv-export.md'],
    next_action: 'continue',
  }),
  execute('build', 'Start the implementation: its prompt carries the design', 'implementer', 'it writes the endpoint and the button'),
  { title: 'Where things stand', tool: 'orchestrator_get_status', args: () => ({}) },
  complete('build', 'Report the implementation back', {
    summary: 'Added the streaming endpoint and an Export button; fields with commas, quotes or line breaks are quoted.',
    artifacts: ['src/reports/export-csv.ts', 'src/reports/ReportPage.tsx'],
    next_action: 'continue',
  }),
  execute('test', 'Start the tests: the tester\'s prompt', 'tester', 'it writes and runs the tests'),
  complete('test', 'Report the tests back: the last subtask, so the task is archived', {
    summary: 'Unit tests for escaping and empty reports; an end-to-end test downloads a 10,000-row report and compares it with the page.',
    artifacts: ['src/reports/export-csv.test.ts', 'e2e/export.spec.ts'],
    next_action: 'complete',
  }),
  { title: 'Synthesize: the final report, grouped by role', tool: 'orchestrator_synthesize_results', args: (ids) => ({ parent_task_id: ids.parent }) },
];
