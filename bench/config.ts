/** What the bench measures and how much of it: the full run (npm run bench) and the smoke run (CI). */

export interface Scale {
  /** Short name used in row labels, e.g. "1,000 active". */
  name: string;
  active: number;
  archived: number;
  /** Cold-start target as a multiple of the minimal server's cold start (null: shown, not judged). */
  coldStartTarget: number | null;
  /** Whether the get_status and memory targets apply at this scale (the issue sets them at 10,000 active). */
  judged: boolean;
}

export interface BenchConfig {
  smoke: boolean;
  /** Rounds of the per-tool phase; each round calls every tool at least once (execute/complete 5 times). */
  toolRounds: number;
  /** Cold starts per server and scale (interleaved: minimal, small, large, minimal, ...). */
  coldStarts: number;
  scales: Scale[];
  /** get_status and complete_subtask calls per scale. */
  scaleCalls: number;
  /** Process counts for the contention phase. */
  processCounts: number[];
  /** complete_subtask calls per contention setting (over two passes), split evenly over the processes. */
  contentionOps: number;
  /** Subtasks of each shared parent completed in one contention run (one parent per this many ops). */
  sharedSubtasks: number;
  /** Where results are written (relative to bench/). */
  resultsFile: string;
  /** Leases: server processes (one agent each) racing for the subtasks of one plan, how many subtasks, and completions timed with and without a lease. */
  leaseAgents: number;
  leaseSubtasks: number;
  leaseCostRounds: number;
  /** HTTP: rounds of the latency phase (plan + 4 execute/complete each), clients at once, and the plans each of them carries out. */
  httpRounds: number;
  httpClients: number;
  httpPlansPerClient: number;
}

export const fullConfig: BenchConfig = {
  smoke: false,
  toolRounds: 150,
  coldStarts: 11,
  scales: [
    { name: '1,000 active', active: 1_000, archived: 10_000, coldStartTarget: 2, judged: false },
    { name: '10,000 active', active: 10_000, archived: 10_000, coldStartTarget: 3, judged: true },
  ],
  scaleCalls: 150,
  processCounts: [1, 2, 4, 8],
  contentionOps: 1440,
  sharedSubtasks: 24,
  resultsFile: 'results.md',
  leaseAgents: 8,
  leaseSubtasks: 200,
  leaseCostRounds: 100,
  httpRounds: 150,
  httpClients: 50,
  httpPlansPerClient: 2,
};

export const smokeConfig: BenchConfig = {
  smoke: true,
  toolRounds: 3,
  coldStarts: 1,
  scales: [
    { name: '50 active', active: 50, archived: 50, coldStartTarget: 2, judged: false },
    { name: '200 active', active: 200, archived: 200, coldStartTarget: 3, judged: true },
  ],
  scaleCalls: 5,
  processCounts: [1, 2, 4, 8],
  contentionOps: 32,
  sharedSubtasks: 8,
  resultsFile: '.work/results-smoke.md',
  leaseAgents: 8,
  leaseSubtasks: 16,
  leaseCostRounds: 2,
  httpRounds: 3,
  httpClients: 4,
  httpPlansPerClient: 1,
};

export const TOOLS = [
  'orchestrator_plan_task',
  'orchestrator_execute_subtask',
  'orchestrator_complete_subtask',
  'orchestrator_get_status',
  'orchestrator_initialize_session',
  'orchestrator_synthesize_results',
] as const;
export type ToolName = (typeof TOOLS)[number];

/** The tools that change a task: compared with the write floor, and each followed by one floor write in the per-tool phase. */
export const WRITE_TOOLS: ReadonlySet<ToolName> = new Set(['orchestrator_plan_task', 'orchestrator_execute_subtask', 'orchestrator_complete_subtask']);

export const MODES = ['separate', 'shared'] as const;
export type Mode = (typeof MODES)[number];

/** Every row label the table must contain for a config: the smoke test checks them all. */
export function expectedRowLabels(config: BenchConfig): string[] {
  const rows = [
    'Floor: minimal server round trip',
    'Floor: minimal server cold start',
    'Floor: durable replace, sync calls',
    'Floor: durable replace, fs/promises',
    'Floor: write (round trip + sync durable replace)',
    'Floor: write via fs/promises (round trip + its durable replace)',
    'Floor: minimal server RSS',
    ...TOOLS.map((t) => `Tool ${t.replace('orchestrator_', '')}`),
    'Tool complete_subtask, last subtask (archives)',
  ];
  for (const s of config.scales) {
    rows.push(`Cold start @ ${s.name}`, `get_status @ ${s.name}`, `get_status reply @ ${s.name}`, `complete_subtask @ ${s.name}`, `RSS @ ${s.name}`, `RSS with archive indexed @ ${s.name}`);
  }
  for (const mode of MODES) for (const n of config.processCounts) rows.push(contentionLabel(mode, n));
  rows.push(LEASE_RACE_LABEL, LEASE_COST_LABEL);
  // PostgreSQL's row is added where a server answers: not required here.
  rows.push('complete_subtask with encryption at rest (file store)');
  // The PostgreSQL row of the many-clients run appears only where that store and a database are available.
  rows.push(...HTTP_LATENCY_LABELS, httpClientsLabel('file store', config.httpClients));
  return rows;
}

export const HTTP_LATENCY_LABELS = ['HTTP floor: ping round trip', 'HTTP floor: write (ping round trip + sync durable replace)', 'HTTP execute_subtask', 'HTTP complete_subtask'] as const;

export function httpClientsLabel(store: string, clients: number): string {
  return `HTTP, ${clients} clients at once, ${store}`;
}

export function contentionLabel(mode: Mode, processes: number): string {
  return `Contention, ${mode === 'shared' ? 'one shared parent' : 'separate parents'}, ${processes} process${processes === 1 ? '' : 'es'}`;
}

export const LEASE_RACE_LABEL = 'Leases: agents racing for one plan\'s subtasks';
export const LEASE_COST_LABEL = 'Leases: complete_subtask with a lease';
