/**
 * A cloned repository can carry .task_orchestrator/logs/orchestrator.log and tasks/journal.log as
 * symbolic links to files anywhere. The server must never append through them, and a refused call
 * with a newline in its task_id must not be able to write a line of its choosing into any log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstat, mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { layoutFor } from '../../src/store/file/layout.js';
import { connectSpawned, samplePlan } from '../mcp/harness.js';
import { tempDir } from './helpers.js';

const FORGED = '2030-01-01T00:00:00.000Z ERROR [pid 1] forged line';

/** A project whose log and/or journal are links to files in another folder. */
async function linkedProject(links: { log: boolean; journal: boolean }) {
  const project = await tempDir('symlinks');
  const outside = await tempDir('symlinks-outside');
  const layout = layoutFor(project.dir);
  const outsideLog = path.join(outside.dir, 'victim-log.txt');
  const outsideJournal = path.join(outside.dir, 'victim-journal.txt');
  await writeFile(outsideLog, 'outside log, must stay as it is\n');
  await writeFile(outsideJournal, 'outside journal, must stay as it is\n');
  await mkdir(layout.logsDir, { recursive: true });
  await mkdir(path.dirname(layout.journalFile), { recursive: true });
  if (links.log) await symlink(outsideLog, path.join(layout.logsDir, 'orchestrator.log'));
  if (links.journal) await symlink(outsideJournal, layout.journalFile);
  return {
    dir: project.dir,
    layout,
    outsideLog,
    outsideJournal,
    async remove() {
      await project.remove();
      await outside.remove();
    },
  };
}

/** Normal calls and a refused one whose task_id tries to start a log line of its own. */
async function exercise(dir: string): Promise<string> {
  const server = await connectSpawned(dir);
  try {
    const plan = await server.call('orchestrator_plan_task', samplePlan);
    assert.equal(plan.isError, false, plan.text);
    const refused = await server.call('orchestrator_execute_subtask', { task_id: `x\n${FORGED}\r\u001b[2J` });
    assert.equal(refused.isError, true);
    const first = (plan.data.execution_order as string[])[0]!;
    assert.equal((await server.call('orchestrator_execute_subtask', { task_id: first })).isError, false);
    assert.equal((await server.call('orchestrator_complete_subtask', { task_id: first, results: 'done' })).isError, false);
    assert.equal((await server.call('orchestrator_get_status')).isError, false);
    return server.stderr();
  } finally {
    await server.close();
  }
}

function assertNoForgedLine(text: string, where: string): void {
  const forged = text.split(/\r?\n|\r/).filter((line) => line.startsWith(FORGED.slice(0, 30)));
  assert.deepEqual(forged, [], `${where} holds a forged line`);
  assert.ok(text.includes(`x\\n${FORGED}\\r\\u001b[2J`), `${where} shows the refused task_id with its control characters escaped`);
}

test('links in place of the log and the journal: nothing is written where they point, the log goes to stderr with no forged line', { timeout: 60_000 }, async () => {
  const project = await linkedProject({ log: true, journal: true });
  try {
    const stderr = await exercise(project.dir);
    assert.equal(await readFile(project.outsideLog, 'utf8'), 'outside log, must stay as it is\n');
    assert.equal(await readFile(project.outsideJournal, 'utf8'), 'outside journal, must stay as it is\n');

    assert.equal(stderr.match(/orchestrator\.log is a symbolic link/g)?.length, 1, `the log link is reported once:\n${stderr}`);
    assert.match(stderr, /Logging to stderr only\. Remove the link/);
    assertNoForgedLine(stderr, 'stderr');
    assert.ok((await lstat(path.join(project.layout.logsDir, 'orchestrator.log'))).isSymbolicLink(), 'the log link is left for the person to remove');

    // The journal link was moved aside (as a link, still pointing outside) and a real journal started.
    const journal = await lstat(project.layout.journalFile);
    assert.ok(journal.isFile(), 'tasks/journal.log is a regular file now');
    assert.match(await readFile(project.layout.journalFile, 'utf8'), /^task_[0-9a-f]{10}\n/);
    assert.equal(await readlink(`${project.layout.journalFile}.link`), project.outsideJournal);
    assert.match(stderr, /tasks\/journal\.log was a symbolic link \(to .*victim-journal\.txt\).*moved it to tasks\/journal\.log\.link.*Remove tasks\/journal\.log\.link/);
  } finally {
    await project.remove();
  }
});

test('a real log file: a refused call with a newline in task_id cannot forge a line in it', { timeout: 60_000 }, async () => {
  const project = await linkedProject({ log: false, journal: true });
  try {
    await exercise(project.dir);
    const log = await readFile(path.join(project.layout.logsDir, 'orchestrator.log'), 'utf8');
    assertNoForgedLine(log, 'orchestrator.log');
    for (const line of log.split('\n').filter(Boolean)) assert.match(line, /^\S+Z (DEBUG|INFO |WARN |ERROR) \[pid \d+\] /, `not a line of the logger: ${line}`);
    assert.match(log, /tasks\/journal\.log was a symbolic link/);
    assert.equal(await readFile(project.outsideJournal, 'utf8'), 'outside journal, must stay as it is\n');
  } finally {
    await project.remove();
  }
});

test('named pipes in place of the log and the journal: the server answers, never blocks on them, and says so', { timeout: 60_000 }, async () => {
  const project = await tempDir('fifos');
  try {
    const layout = layoutFor(project.dir);
    await mkdir(layout.logsDir, { recursive: true });
    await mkdir(path.dirname(layout.journalFile), { recursive: true });
    for (const fifo of [path.join(layout.logsDir, 'orchestrator.log'), layout.journalFile]) {
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    }
    const stderr = await exercise(project.dir); // before the fix, the first open of either pipe blocked the server for good
    assert.match(stderr, /not writing the log to .*orchestrator\.log: .*is a named pipe/);
    assert.match(stderr, /tasks\/journal\.log was a named pipe \(FIFO\), not a regular file.*moved it to tasks\/journal\.log\.link/);
    assert.ok((await lstat(layout.journalFile)).isFile(), 'a regular journal was started');
  } finally {
    await project.remove();
  }
});
