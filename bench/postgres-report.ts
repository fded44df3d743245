/** The PostgreSQL store's rows in the results table, and the two stores side by side. */
import type { ContentionResult } from './contention.js';
import type { PerToolResult } from './per-tool.js';
import type { PostgresResult } from './postgres.js';
import type { Row } from './report.js';
import { int, ms, p50, p95, ratio, x } from './stats.js';

const lat = (values: number[]) => `p50 ${ms(p50(values))} · p95 ${ms(p95(values))}`;

export const POSTGRES_COMPLETE_LABEL = 'PostgreSQL: Tool complete_subtask';

/** complete_subtask's floor in team mode: the MCP round trip plus one bare INSERT + COMMIT round trip. */
export function postgresWriteFloor(r: PostgresResult): number {
  return p50(r.floorRoundTrip) + p50(r.insertCommit);
}

export function postgresRows(r: PostgresResult): Row[] {
  const floor = postgresWriteFloor(r);
  const complete = ratio(p50(r.complete), floor);
  const rows: Row[] = [
    { label: 'PostgreSQL floor: minimal server round trip', value: lat(r.floorRoundTrip), ratio: '1.00x', target: '', result: 'info', note: `n=${r.floorRoundTrip.length}, interleaved with the calls below` },
    { label: 'PostgreSQL floor: BEGIN; INSERT; COMMIT', value: lat(r.insertCommit), ratio: '', target: '', result: 'info', note: `n=${r.insertCommit.length}, one round trip with pg directly, a ${(r.rowBytes / 1024).toFixed(1)} KB row into a fresh table, synchronous_commit on; ${r.database}` },
    { label: 'PostgreSQL floor: write (round trip + INSERT/COMMIT)', value: `p50 ${ms(floor)}`, ratio: '1.00x', target: '', result: 'info', note: 'the reference for complete_subtask in team mode' },
    { label: POSTGRES_COMPLETE_LABEL, value: lat(r.complete), ratio: `${x(complete)} write floor`, target: '<= 1.5x write floor', result: complete <= 1.5 ? 'PASS' : 'MISS', note: `n=${r.complete.length}, serve --database-url, after execute_subtask; parent of 5 subtasks, stays active (4 of 5 completions)` },
  ];
  for (const c of r.contention) {
    rows.push({
      label: postgresContentionLabel(c.mode, c.processes),
      value: `${c.throughput.toFixed(0)} ops/s · p95 ${ms(p95(c.latencies))} · lost ${c.lost}`,
      ratio: '',
      target: '0 lost',
      result: c.lost === 0 && c.unacknowledgedWrites === 0 && c.errors === 0 ? 'PASS' : 'MISS',
      note: `${c.ops} complete_subtask in ${c.seconds.toFixed(2)} s by ${c.processes} servers, each with its own folder${c.mode === 'shared' ? ', all on one parent at a time' : ', each on its own parent'}; checked in the database; server CPU per op ${ms(c.serverCpuPerOp)}; errors ${c.errors}${c.unacknowledgedWrites ? `; ${c.unacknowledgedWrites} parent(s) with unacknowledged writes` : ''}${c.errorSamples.length ? `; e.g. ${c.errorSamples[0]!.replace(/\|/g, '/').slice(0, 120)}` : ''}`,
    });
  }
  return rows;
}

export function postgresContentionLabel(mode: string, processes: number): string {
  return `PostgreSQL: contention, ${mode === 'shared' ? 'one shared parent' : 'separate parents'}, ${processes} servers`;
}

/** The file store's figures from this same run beside the PostgreSQL store's. */
export function renderComparison(r: PostgresResult, perTool: PerToolResult, fileContention: ContentionResult[]): string {
  const fileFloor = p50(perTool.floorRoundTrip) + p50(perTool.durable.sync);
  const fileComplete = perTool.tools.orchestrator_complete_subtask;
  const pgFloor = postgresWriteFloor(r);
  const lines: [string, string, string][] = [
    ['complete_subtask, MCP round trip', lat(fileComplete), lat(r.complete)],
    ['its write floor', `p50 ${ms(fileFloor)} (round trip + durable file replace)`, `p50 ${ms(pgFloor)} (round trip + INSERT/COMMIT)`],
    ['complete_subtask / write floor', x(ratio(p50(fileComplete), fileFloor)), x(ratio(p50(r.complete), pgFloor))],
  ];
  for (const c of r.contention) {
    const file = fileContention.find((f) => f.mode === c.mode && f.processes === c.processes);
    const figure = (f: { throughput: number; latencies: number[]; lost: number; ops: number }) => `${f.throughput.toFixed(0)} ops/s · p95 ${ms(p95(f.latencies))} · lost ${f.lost} of ${int(f.ops)}`;
    lines.push([`${c.processes} processes, ${c.mode === 'shared' ? 'one shared parent' : 'separate parents'}`, file ? figure(file) : 'not measured', figure(c)]);
  }
  const header = ['Measure', 'File store (one folder)', 'PostgreSQL store (a folder each)'];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...lines.map(line)].join('\n');
}
