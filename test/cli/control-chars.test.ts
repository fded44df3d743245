/**
 * Titles and results are written by the assistant and by whoever edits the files: escape sequences
 * in them must not reach the terminal (clear the screen, write the clipboard with OSC 52, overwrite
 * a line with a carriage return). The CLI shows them as visible escapes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readSettings } from '../../src/config.js';
import { silentLogger } from '../../src/logging/logger.js';
import { openProject } from '../../src/compose/open-project.js';
import { removeDir, runCli, tempDir } from './helpers.js';

const CLEAR = '\u001b[2J';
const CLIPBOARD = '\u001b]52;c;ZWNobyBwd25lZA==\u0007';
const HOSTILE_TITLE = `Ship it${CLEAR}${CLIPBOARD}\rAll tasks done`;

describe('control characters in task text', () => {
  let dir: string;
  let parentId: string;
  let subtaskId: string;
  before(async () => {
    dir = await tempDir();
    const project = await openProject(dir, readSettings({}), silentLogger);
    try {
      const plan = await project.orchestrator.planTask({
        description: `${HOSTILE_TITLE}\nSecond line of the description`,
        subtasks: [{ title: `Step${CLEAR}\r`, description: `Do${CLIPBOARD}`, specialist_type: 'implementer' }],
      });
      parentId = plan.parent_task_id;
      subtaskId = plan.subtasks[0]!.task_id;
      await project.orchestrator.executeSubtask({ task_id: subtaskId });
      await project.orchestrator.completeSubtask({ task_id: subtaskId, results: `line one\r\nline two${CLEAR}\r`, next_action: 'blocked' });
    } finally {
      await project.close();
    }
  });
  after(() => removeDir(dir));

  const assertInert = (stdout: string) => {
    assert.doesNotMatch(stdout, /\u001b/, 'no ESC byte');
    assert.doesNotMatch(stdout, /\r/, 'no carriage return');
    assert.doesNotMatch(stdout, /\u0007/, 'no BEL');
  };

  test('status shows the title with visible escapes', async () => {
    const { code, stdout, stderr } = await runCli(['status'], { cwd: dir });
    assert.equal(code, 0, stderr);
    assertInert(stdout);
    assert.ok(stdout.includes('Ship it\\u001b[2J\\u001b]52;c;ZWNobyBwd25lZA==\\u0007\\rAll tasks done'), stdout);
  });

  test('show of the parent and of the subtask: escapes visible, multi-line results still on several lines', async () => {
    for (const id of [parentId, subtaskId]) {
      const { code, stdout, stderr } = await runCli(['show', id], { cwd: dir });
      assert.equal(code, 0, stderr);
      assertInert(stdout);
      assert.match(stdout, /Step\\u001b\[2J/);
      assert.match(stdout, /line one\n\s+line two\\u001b\[2J/);
    }
  });

  test('--json keeps the exact text, JSON-escaped: no raw ESC or CR either', async () => {
    for (const args of [['status', '--json'], ['show', parentId, '--json']]) {
      const { code, stdout } = await runCli(args, { cwd: dir });
      assert.equal(code, 0);
      assertInert(stdout);
      assert.ok(stdout.includes(JSON.stringify(HOSTILE_TITLE)), 'the title, as JSON writes it');
    }
  });
});
