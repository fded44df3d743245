/**
 * Micro-benchmarks of the data-safety building blocks (issue 13), in process, with no server:
 *
 * - encryption at rest: encryptParent + serializeTaskFile against serializeTaskFile alone, and
 *   parseTaskFile + decryptParent against parseTaskFile alone, for a typical parent (5 subtasks, 4 of them
 *   completed with results, their history), which is what each write and read of a task adds;
 * - backup archives: writing, verifying and reading back the task files of `parents` parents, plain and
 *   encrypted (the issue's figure is for 10,000).
 *
 * `node --import tsx bench/safety.ts [--smoke]` prints the figures; bench/run.ts adds them as rows.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { recordPlanned, appendEvents } from '../src/domain/history.js';
import type { ParentTask } from '../src/domain/model.js';
import { parseTaskFile, serializeTaskFile } from '../src/domain/task-file.js';
import { openBackup, writeBackup } from '../src/safety/backup-archive.js';
import { EncryptionKey, keyringOf } from '../src/safety/encryption.js';
import { decryptParent, encryptParent, ParentCodec } from '../src/safety/parent-codec.js';
import { idMaker, makeParent, rng } from './generate.js';
import type { Row } from './report.js';
import { p50, p95 } from './stats.js';

export interface SafetyMicroOptions {
  /** Timed repetitions of each parent operation. */
  iterations: number;
  /** Parents in the backup archive. */
  parents: number;
}

export const FULL_SAFETY: SafetyMicroOptions = { iterations: 3_000, parents: 10_000 };
export const SMOKE_SAFETY: SafetyMicroOptions = { iterations: 50, parents: 100 };

export interface SafetyMicroResult {
  parentBytes: number;
  /** Microseconds per call. */
  serialize: number[];
  encryptSerialize: number[];
  parse: number[];
  parseDecrypt: number[];
  /** A store's read-change-write of one results text, in clear and through a ParentCodec. */
  cycle: number[];
  cycleEncrypted: number[];
  backup: { parents: number; plain: ArchiveTimes; encrypted: ArchiveTimes };
}

export interface ArchiveTimes {
  /** Milliseconds. */
  write: number;
  verify: number;
  /** Verification and the second, reading pass. */
  read: number;
  bytes: number;
}

/** A parent like the per-tool phase's: 5 subtasks, 4 completed with results, and the history of that. */
export function typicalParent(): ParentTask {
  const random = rng(42);
  const parent = makeParent(random, 'active', idMaker(random)(), { subtaskCount: 5, completed: 4 });
  let withHistory = recordPlanned(parent, { at: parent.created_at, agent: 'session-1' });
  for (const s of parent.subtasks.filter((x) => x.status === 'completed')) {
    withHistory = appendEvents(withHistory, { at: s.completed_at!, agent: 'session-1' }, [
      { task_id: s.task_id, from: 'pending', to: 'active' },
      { task_id: s.task_id, from: 'active', to: 'completed', note: s.results ?? '' },
    ]);
  }
  return withHistory;
}

export async function runSafetyMicro(options: SafetyMicroOptions, workDir: string, progress: (message: string) => void = () => {}): Promise<SafetyMicroResult> {
  const keyring = keyringOf(EncryptionKey.generate('bench key').key);
  const parent = typicalParent();
  const clearText = serializeTaskFile(parent);
  const sealedText = serializeTaskFile(encryptParent(parent, keyring));
  progress(`encryption micro-benchmark (${options.iterations} calls each, parent of ${clearText.length} bytes)`);
  const [serialize, encryptSerialize] = interleaved(options.iterations, [() => serializeTaskFile(parent), () => serializeTaskFile(encryptParent(parent, keyring))]);
  const [parse, parseDecrypt] = interleaved(options.iterations, [() => parseTaskFile(clearText), () => decryptParent(unwrapParsed(parseTaskFile(sealedText)), keyring)]);
  const codec = new ParentCodec(keyring);
  const clearStore = { text: clearText, n: 0 };
  const sealedStore = { text: serializeTaskFile(codec.encrypt(parent)), n: 0 };
  const [cycle, cycleEncrypted] = interleaved(options.iterations, [
    () => (clearStore.text = serializeTaskFile(changeOneText(unwrapParsed(parseTaskFile(clearStore.text)), clearStore.n++))),
    () => (sealedStore.text = serializeTaskFile(codec.encrypt(changeOneText(codec.decrypt(unwrapParsed(parseTaskFile(sealedStore.text))), sealedStore.n++)))),
  ]);
  progress(`backup micro-benchmark (${options.parents} parents)`);
  const dir = path.join(workDir, 'safety');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const plain = await timeArchive(dir, 'plain.tar.gz', options.parents, null);
  const encrypted = await timeArchive(dir, 'encrypted.tar.gz.enc', options.parents, keyring.current);
  await rm(dir, { recursive: true, force: true });
  return { parentBytes: Buffer.byteLength(clearText), serialize, encryptSerialize, parse, parseDecrypt, cycle, cycleEncrypted, backup: { parents: options.parents, plain, encrypted } };
}

/** Times each function `iterations` times, taking turns so that both see the same machine load; µs per call. */
function interleaved(iterations: number, work: [() => unknown, () => unknown]): [number[], number[]] {
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < iterations + 200; i++) {
    for (const [j, fn] of work.entries()) {
      const start = performance.now();
      fn();
      if (i >= 200) times[j as 0 | 1].push((performance.now() - start) * 1000); // the first 200: warm-up
    }
  }
  return times;
}

/** What complete_subtask does to the texts of a parent: a new results text on one subtask. */
function changeOneText(parent: ParentTask, n: number): ParentTask {
  const subtasks = parent.subtasks.map((s, i) => (i === n % parent.subtasks.length ? { ...s, results: `Results of attempt ${n}: ${s.description}` } : s));
  return { ...parent, subtasks };
}

function unwrapParsed(check: ReturnType<typeof parseTaskFile>): ParentTask {
  if (!check.ok) throw new Error(check.message);
  return check.value;
}

/** The task files of `count` generated parents (one in ten active), as a backup of a file store would hold them. */
function* taskEntries(count: number): Generator<{ name: string; data: string }> {
  const random = rng(7);
  const nextId = idMaker(random);
  for (let i = 0; i < count; i++) {
    const kind = i % 10 === 0 ? 'active' : 'archived';
    const parent = makeParent(random, kind, nextId());
    yield { name: `tasks/${kind === 'active' ? 'active' : 'archive'}/${parent.parent_task_id}.json`, data: serializeTaskFile(parent) };
  }
}

async function timeArchive(dir: string, name: string, parents: number, key: EncryptionKey | null): Promise<ArchiveTimes> {
  const file = path.join(dir, name);
  const keyring = keyringOf(key);
  let start = performance.now();
  await writeBackup({ file, source: { store: 'file', description: 'bench' }, key }, taskEntries(parents));
  const write = performance.now() - start;
  start = performance.now();
  const backup = await openBackup(file, keyring);
  const verify = performance.now() - start;
  for await (const _entry of backup.entries()) {
    // each entry is checked again as it is read
  }
  const read = performance.now() - start;
  return { write, verify, read, bytes: (await stat(file)).size };
}

const us = (values: number[]) => `p50 ${p50(values).toFixed(1)} µs · p95 ${p95(values).toFixed(1)} µs`;
const times = (a: number[], b: number[]) => `${(p50(a) / p50(b)).toFixed(2)}x`;
const msText = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(0)} ms`);

/** The figures as rows of the bench table (information only: the issue's target is on complete_subtask end to end). */
export function safetyRows(r: SafetyMicroResult): Row[] {
  const kb = (r.parentBytes / 1024).toFixed(1);
  const archive = (label: string, t: ArchiveTimes): Row => ({
    label: `Backup archive, ${r.backup.parents.toLocaleString('en-US')} parents, ${label}`,
    value: `write ${msText(t.write)} · verify ${msText(t.verify)} · verify + read ${msText(t.read)}`,
    ratio: '',
    target: '',
    result: 'info',
    note: `${(t.bytes / 1024 / 1024).toFixed(1)} MiB; in process, task files generated on the fly, no store`,
  });
  return [
    { label: 'Encryption: serializeTaskFile', value: us(r.serialize), ratio: '1.00x', target: '', result: 'info', note: `a typical parent (5 subtasks, 4 completed, history), ${kb} KB in clear` },
    { label: 'Encryption: encryptParent + serializeTaskFile', value: us(r.encryptSerialize), ratio: `${times(r.encryptSerialize, r.serialize)} serialize`, target: '', result: 'info', note: 'what a write with a key adds: an AES-256-GCM envelope per text' },
    { label: 'Encryption: parseTaskFile', value: us(r.parse), ratio: '1.00x', target: '', result: 'info', note: 'the same parent' },
    { label: 'Encryption: parseTaskFile + decryptParent', value: us(r.parseDecrypt), ratio: `${times(r.parseDecrypt, r.parse)} parse`, target: '', result: 'info', note: 'what a read with a key adds, nothing remembered (a file another process wrote)' },
    { label: 'Encryption: read, change, write (clear)', value: us(r.cycle), ratio: '1.00x', target: '', result: 'info', note: 'parse, a new results text on one subtask, serialize: the CPU part of complete_subtask\'s write' },
    { label: 'Encryption: read, change, write (ParentCodec)', value: us(r.cycleEncrypted), ratio: `${times(r.cycleEncrypted, r.cycle)} clear`, target: '', result: 'info', note: `the same through a store's ParentCodec: +${(p50(r.cycleEncrypted) - p50(r.cycle)).toFixed(0)} µs a write` },
    archive('plain', r.backup.plain),
    archive('encrypted', r.backup.encrypted),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const smoke = process.argv.includes('--smoke');
  const result = await runSafetyMicro(smoke ? SMOKE_SAFETY : FULL_SAFETY, path.join(import.meta.dirname, '.work', 'safety-only'), (m) => process.stderr.write(`${m}\n`));
  for (const row of safetyRows(result)) process.stdout.write(`${row.label}: ${row.value}${row.ratio ? ` (${row.ratio})` : ''}; ${row.note}\n`);
}
