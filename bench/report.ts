/** The results table: one row per figure, with its ratio to the floor, its target and PASS/MISS. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { contentionLabel, HTTP_LATENCY_LABELS, httpClientsLabel, LEASE_COST_LABEL, LEASE_RACE_LABEL, MODES, TOOLS, WRITE_TOOLS, type BenchConfig, type ToolName } from './config.js';
import type { ContentionResult } from './contention.js';
import type { HttpResult, ManyClientsResult } from './http.js';
import type { LeaseResult } from './leases.js';
import { ROOT } from './mcp.js';
import type { PerToolResult } from './per-tool.js';
import type { ColdStartResult, ScaleResult } from './scale.js';
import { int, median, mib, ms, p50, p95, ratio, x } from './stats.js';

export type Verdict = 'PASS' | 'MISS' | 'info';

export interface Row {
  label: string;
  value: string;
  ratio: string;
  target: string;
  result: Verdict;
  note: string;
}

export interface Measurements {
  perTool: PerToolResult;
  coldStarts: ColdStartResult;
  scales: ScaleResult[];
  contention: ContentionResult[];
  leases: LeaseResult;
  http: HttpResult;
}

const TOKENS_PER_BYTE = 1 / 4;
const TARGETED_TOOLS: ReadonlySet<ToolName> = new Set(['orchestrator_execute_subtask', 'orchestrator_complete_subtask']);

const judge = (ok: boolean): Verdict => (ok ? 'PASS' : 'MISS');
const lat = (values: number[]) => `p50 ${ms(p50(values))} · p95 ${ms(p95(values))}`;

export function buildRows(m: Measurements): Row[] {
  const rows: Row[] = [];
  const rt = p50(m.perTool.floorRoundTrip);
  const { sync, async } = m.perTool.durable;
  // The reference: the round trip plus the syscall sequence itself. fs/promises is the second reference.
  const writeFloor = rt + p50(sync);
  const asyncWriteFloor = rt + p50(async);
  const againstFloors = (value: number) => ({ sync: ratio(value, writeFloor), note: `${x(ratio(value, asyncWriteFloor))} fs/promises write floor` });
  const minimalCold = median(m.coldStarts.minimal);
  const kb = (m.perTool.durableFileBytes / 1024).toFixed(1);

  rows.push(
    { label: 'Floor: minimal server round trip', value: lat(m.perTool.floorRoundTrip), ratio: '1.00x', target: '', result: 'info', note: `n=${m.perTool.floorRoundTrip.length}, one trivial tool, same SDK and stdio; interleaved with the calls below` },
    { label: 'Floor: minimal server cold start', value: `median ${ms(minimalCold)}`, ratio: '1.00x', target: '', result: 'info', note: `n=${m.coldStarts.minimal.length}, spawn to first tool answer` },
    { label: 'Floor: durable replace, sync calls', value: lat(sync), ratio: '1.00x', target: '', result: 'info', note: `n=${sync.length}, ${kb} KB (a parent of 5 subtasks): open temp, write, fsync, close, rename, open + fsync + close of the folder, back to back on the main thread` },
    { label: 'Floor: durable replace, fs/promises', value: lat(async), ratio: `${x(ratio(p50(async), p50(sync)))} sync calls`, target: '', result: 'info', note: `n=${async.length}, the same calls through fs/promises (a thread-pool round trip each), taking turns with the sync ones` },
    { label: 'Floor: write (round trip + sync durable replace)', value: `p50 ${ms(writeFloor)}`, ratio: '1.00x', target: '', result: 'info', note: 'the reference for any tool that changes a task' },
    { label: 'Floor: write via fs/promises (round trip + its durable replace)', value: `p50 ${ms(asyncWriteFloor)}`, ratio: `${x(ratio(asyncWriteFloor, writeFloor))} write floor`, target: '', result: 'info', note: 'second reference, shown in the notes of the tools that change a task' },
    { label: 'Floor: minimal server RSS', value: mib(m.perTool.minimalRss), ratio: '', target: '', result: 'info', note: `VmRSS after the calls above; the real server had ${mib(m.perTool.realRss)} with ${int(m.perTool.activeParents)} active parents` },
  );

  for (const tool of TOOLS) {
    const values = m.perTool.tools[tool];
    const writes = WRITE_TOOLS.has(tool);
    const r = ratio(p50(values), writes ? writeFloor : rt);
    const targeted = TARGETED_TOOLS.has(tool);
    const bytes = m.perTool.replyBytes[tool];
    rows.push({
      label: `Tool ${tool.replace('orchestrator_', '')}`,
      value: lat(values),
      ratio: `${x(r)} ${writes ? 'write floor' : 'round trip'}`,
      target: targeted ? '<= 1.5x write floor' : '',
      result: targeted ? judge(r <= 1.5) : 'info',
      note: `n=${values.length}${bytes ? `, reply ${int(bytes * TOKENS_PER_BYTE)} tokens` : ''}${writes ? `; ${againstFloors(p50(values)).note}` : ''}${tool === 'orchestrator_complete_subtask' ? '; parent of 5 subtasks, stays active (4 of 5 completions)' : ''}`,
    });
  }
  rows.push({
    label: 'Tool complete_subtask, last subtask (archives)',
    value: lat(m.perTool.completeArchiving),
    ratio: `${x(ratio(p50(m.perTool.completeArchiving), writeFloor))} write floor`,
    target: '',
    result: 'info',
    note: `n=${m.perTool.completeArchiving.length}; adds the move to tasks/archive/ and two folder fsyncs; ${againstFloors(p50(m.perTool.completeArchiving)).note}`,
  });

  for (const [i, s] of m.scales.entries()) {
    const scale = s.scale;
    const cold = median(m.coldStarts.perScale[i]!);
    const coldRatio = ratio(cold, minimalCold);
    const setup = `${int(scale.active)} active + ${int(scale.archived)} archived`;
    rows.push({
      label: `Cold start @ ${scale.name}`,
      value: `median ${ms(cold)}`,
      ratio: `${x(coldRatio)} minimal cold start`,
      target: scale.coldStartTarget ? `<= ${scale.coldStartTarget}x minimal` : '',
      result: scale.coldStartTarget ? judge(coldRatio <= scale.coldStartTarget) : 'info',
      note: `n=${m.coldStarts.perScale[i]!.length}, ${setup}, spawn to first answer of initialize_session, warm page cache; the very first start took ${ms(m.coldStarts.firstPerScale[i]!)}`,
    });
    const gs = p50(s.getStatus);
    rows.push({
      label: `get_status @ ${scale.name}`,
      value: lat(s.getStatus),
      ratio: `${x(ratio(gs, rt))} round trip`,
      target: scale.judged ? '<= 5 ms' : '',
      result: scale.judged ? judge(gs <= 5) : 'info',
      note: `n=${s.getStatus.length}, default arguments, interleaved with complete_subtask`,
    });
    const tokens = s.getStatusBytes * TOKENS_PER_BYTE;
    rows.push({
      label: `get_status reply @ ${scale.name}`,
      value: `${int(tokens)} tokens (${int(s.getStatusBytes)} bytes)`,
      ratio: '',
      target: scale.judged ? '<= 25,000 tokens' : '',
      result: scale.judged ? judge(tokens <= 25_000) : 'info',
      note: `content text alone ${int(s.getStatusTextBytes * TOKENS_PER_BYTE)} tokens; the rest is structuredContent`,
    });
    const cr = againstFloors(p50(s.complete));
    rows.push({
      label: `complete_subtask @ ${scale.name}`,
      value: lat(s.complete),
      ratio: `${x(cr.sync)} write floor`,
      target: '<= 1.5x write floor',
      result: judge(cr.sync <= 1.5),
      note: `n=${s.complete.length}; ${cr.note}`,
    });
    rows.push({
      label: `RSS @ ${scale.name}`,
      value: mib(s.rss),
      ratio: '',
      target: scale.judged ? '<= 150 MiB' : '',
      result: scale.judged ? judge(s.rss <= 150 * 2 ** 20) : 'info',
      note: 'VmRSS of the server after the calls above (archive not indexed yet)',
    });
    rows.push({
      label: `RSS with archive indexed @ ${scale.name}`,
      value: mib(s.rssWithArchive),
      ratio: '',
      target: scale.judged ? '<= 150 MiB' : '',
      result: scale.judged ? judge(s.rssWithArchive <= 150 * 2 ** 20) : 'info',
      note: `after get_status include_completed (which took ${ms(s.archiveIndexMs)}); peak VmHWM ${mib(s.peakRss)}`,
    });
  }

  for (const mode of MODES) {
    const base = m.contention.find((c) => c.mode === mode && c.processes === 1);
    for (const c of m.contention.filter((r) => r.mode === mode)) {
      const r = base ? ratio(c.throughput, base.throughput) : Number.NaN;
      const throughputTarget = c.processes === 4 ? (mode === 'separate' ? 1.5 : 0.5) : null;
      const ok = c.lost === 0 && (throughputTarget === null || r >= throughputTarget);
      rows.push({
        label: contentionLabel(mode, c.processes),
        value: `${c.throughput.toFixed(0)} ops/s · p95 ${ms(p95(c.latencies))} · lost ${c.lost}`,
        ratio: `${x(r)} one process`,
        target: `0 lost${throughputTarget ? `, >= ${throughputTarget}x one process` : ''}`,
        result: judge(ok),
        note: `${c.ops} complete_subtask in ${c.seconds.toFixed(2)} s by ${c.processes} process${c.processes === 1 ? '' : 'es'}${mode === 'shared' ? ' on one parent at a time' : ', each on its own parents'}; CPU per op: servers ${ms(c.serverCpuPerOp)}, clients ${ms(c.clientCpuPerOp)}; errors ${c.errors}${c.unacknowledgedWrites ? `; ${c.unacknowledgedWrites} parent(s) with unacknowledged writes` : ''}${c.errorSamples.length ? `; e.g. ${c.errorSamples[0]!.replace(/\|/g, '/').slice(0, 120)}` : ''}`,
      });
    }
  }
  rows.push(...leaseRows(m.leases));
  rows.push(...httpRows(m.http, m.perTool.tools.orchestrator_complete_subtask));
  return rows;
}

function httpRows(h: HttpResult, stdioComplete: number[]): Row[] {
  const { floor, durable, execute, complete } = h.latency;
  const rt = p50(floor);
  const writeFloor = rt + p50(durable);
  const [floorLabel, writeFloorLabel, executeLabel, completeLabel] = HTTP_LATENCY_LABELS;
  const cr = ratio(p50(complete), writeFloor);
  return [
    { label: floorLabel, value: lat(floor), ratio: '1.00x', target: '', result: 'info', note: `n=${floor.length}, ping over the session of serve --http (token and Host checks, session lookup, the SDK's Streamable HTTP transport on both ends) after every call below` },
    { label: writeFloorLabel, value: `p50 ${ms(writeFloor)}`, ratio: '1.00x', target: '', result: 'info', note: `the reference for tools that change a task over HTTP; the sync durable replace p50 ${ms(p50(durable))} (n=${durable.length}) is taken after every write below` },
    { label: executeLabel, value: lat(execute), ratio: `${x(ratio(p50(execute), writeFloor))} HTTP write floor`, target: '', result: 'info', note: `n=${execute.length}; ${x(ratio(p50(execute), rt))} the HTTP round trip` },
    {
      label: completeLabel,
      value: lat(complete),
      ratio: `${x(cr)} HTTP write floor`,
      target: '<= 1.5x HTTP write floor',
      result: judge(cr <= 1.5),
      note: `n=${complete.length}, parent of 5 subtasks, stays active; ${x(ratio(p50(complete), rt))} the bare HTTP round trip; ${x(ratio(p50(complete), p50(stdioComplete)))} complete_subtask over stdio`,
    },
    ...h.manyClients.map(manyClientsRow),
  ];
}

function manyClientsRow(r: ManyClientsResult): Row {
  return {
    label: httpClientsLabel(r.store, r.clients),
    value: `${r.throughput.toFixed(0)} calls/s · p95 ${ms(p95(r.latencies))} · lost ${r.lost}`,
    ratio: '',
    target: '0 lost, 0 errors',
    result: judge(r.lost === 0 && r.errors === 0 && r.checked > 0),
    note: `${r.clients} sessions (one agent each) each plan, execute and complete (${r.calls} calls in ${r.seconds.toFixed(2)} s); complete_subtask p50 ${ms(p50(r.complete))} · p95 ${ms(p95(r.complete))}; ${r.checked} acknowledged plans and completions looked up through a restarted server, ${r.lost} missing; errors ${r.errors}${r.errorSamples.length ? ` (e.g. ${r.errorSamples[0]!.replace(/\|/g, '/').slice(0, 120)})` : ''}`,
  };
}

function leaseRows(l: LeaseResult): Row[] {
  const exact = l.executedOnce === l.subtasks && l.executedTwice === 0 && l.diskDoubleStarts === 0 && l.diskWrongAgent === 0 && l.otherErrors.length === 0;
  const cost = ratio(p50(l.completeWithLease), p50(l.completeWithoutLease));
  return [
    {
      label: LEASE_RACE_LABEL,
      value: `${l.executedOnce} of ${l.subtasks} executed once · ${l.executedTwice} twice · ${l.executedNever} never`,
      ratio: '',
      target: 'each exactly once',
      result: judge(exact),
      note: `${l.agents} servers, one agent each, ${l.seconds.toFixed(2)} s; refused: ${l.claimedRefusals} SUBTASK_CLAIMED, ${l.completedRefusals} already completed; on disk: ${l.diskDoubleStarts} subtasks started twice, ${l.diskWrongAgent} results from another agent; other errors ${l.otherErrors.length}${l.otherErrors.length ? ` (e.g. ${l.otherErrors[0]!.replace(/\|/g, '/').slice(0, 120)})` : ''}`,
    },
    {
      label: LEASE_COST_LABEL,
      value: `p50 ${ms(p50(l.completeWithLease))} against ${ms(p50(l.completeWithoutLease))}`,
      ratio: `${x(cost)} without a lease`,
      target: '<= 1.10x without',
      result: judge(cost <= 1.1),
      note: `n=${l.completeWithLease.length} + ${l.completeWithoutLease.length}, taking turns on one server: completing a subtask executed under a lease (checked and ended) against one never started (no lease)`,
    },
  ];
}

export function renderTable(rows: Row[]): string {
  const header = ['Measure', 'Value', 'Ratio', 'Target', 'Result', 'Notes'];
  const cells = rows.map((r) => [r.label, r.value, r.ratio, r.target, r.result, r.note].map((c) => c.replace(/\|/g, '/')));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) => `| ${values.map((v, i) => (i === 5 ? v : v.padEnd(widths[i]!))).join(' | ')} |`;
  return [line(header), line(widths.map((w, i) => '-'.repeat(i === 5 ? 3 : w))), ...cells.map(line)].join('\n');
}

/** The commit measured, and whether src/ had uncommitted changes (the figures are for the working tree). */
export function revisionLine(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'package.json'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `${head}${dirty ? ` + uncommitted changes in src/ (${dirty.split('\n').length} files)` : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export function machineLine(): string {
  const cpus = os.cpus();
  return `${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`;
}

export function renderMarkdown(config: BenchConfig, rows: Row[], extra: { started: Date; seconds: number; workDir: string; meanFileBytes: number; loadBefore: number[]; skipped: string[] }): string {
  const passed = rows.filter((r) => r.result === 'PASS').length;
  const missed = rows.filter((r) => r.result === 'MISS');
  return [
    `# task-orchestrator benchmark${config.smoke ? ' (smoke run: tiny scale, few iterations; figures are not meaningful)' : ''}`,
    '',
    `- Date: ${extra.started.toISOString()}`,
    `- Machine: ${machineLine()}`,
    `- Code: ${revisionLine()}`,
    `- Load average (1 min) before / after the run: ${extra.loadBefore[0]!.toFixed(2)} / ${os.loadavg()[0]!.toFixed(2)} (other work on the machine makes every figure noisier)`,
    `- Run: \`${config.smoke ? 'npm run bench -- --smoke' : 'npm run bench'}\`, ${extra.seconds.toFixed(0)} s; data under ${extra.workDir} (generated task files average ${(extra.meanFileBytes / 1024).toFixed(1)} KB)`,
    `- Targets: ${passed} PASS, ${missed.length} MISS${missed.length ? ` (${missed.map((r) => r.label).join('; ')})` : ''}`,
    ...extra.skipped.map((s) => `- Skipped: ${s}`),
    '',
    renderTable(rows),
    '',
    'How to read it: every server is spawned as an MCP client starts it (`node dist/cli/main.js serve` over stdio) and driven by the official MCP client.',
    'The floor is measured in the same run: the round trip of a trivial tool on a minimal server built with the same SDK (bench/minimal-server.ts),',
    'and durable replacements of a task-sized file beside the project: the syscall sequence with synchronous calls (the reference) and the same calls through fs/promises,',
    'alternating. Tools that change a task are compared with the write floor (round trip + synchronous durable replace; their notes give the ratio to the fs/promises one too),',
    'read-only tools with the round trip. Latencies are client-side, call to answer; p50/p95 are nearest-rank percentiles; cold starts are medians.',
    'Tokens are reply bytes / 4, counting content text and structuredContent. Contention ratios compare with one process in the same mode;',
    'lost updates are checked on disk after all servers exit (results of every acknowledged call present, revisions grown by exactly the acknowledged changes).',
    'HTTP rows: `serve --http` with its token, driven by the official client\'s Streamable HTTP transport; its floor is a ping over the same session after every call,',
    'its write floor that plus a sync durable replace taken after every write. The many-clients rows run that many sessions at once, each planning, executing and completing;',
    'every acknowledged plan and completion is then looked up through a new server on the same store (the PostgreSQL row needs `serve --database-url` and a reachable database).',
    '',
  ].join('\n');
}
