import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidSettingError } from '../../src/config.js';
import { parseConfigYaml, readSafetySettings, resolveSafetySettings } from '../../src/safety/settings.js';

const FILE = '/p/.task_orchestrator/config.yaml';

function refusal(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    assert.ok(error instanceof InvalidSettingError, String(error));
    return error.message;
  }
  return assert.fail('expected a refusal');
}

describe('backup and retention settings', () => {
  test('defaults: retention off, a backup every 24 hours, 7 kept', () => {
    const s = resolveSafetySettings({}, {});
    assert.deepEqual(s.retention, { maxAgeDays: null, maxCount: null });
    assert.deepEqual(s.backup, { intervalHours: 24, keep: 7 });
    assert.deepEqual(Object.values(s.origins), ['default', 'default', 'default', 'default']);
  });

  test('config.yaml sets them', () => {
    const { values, problems } = parseConfigYaml('# our policy\nretention:\n  max_age_days: 90\n  max_count: 500\nbackup:\n  interval_hours: 6\n  keep: 14\n', FILE);
    assert.deepEqual(problems, []);
    const s = resolveSafetySettings({}, values);
    assert.deepEqual(s.retention, { maxAgeDays: 90, maxCount: 500 });
    assert.deepEqual(s.backup, { intervalHours: 6, keep: 14 });
    assert.equal(s.origins['retention.max_age_days'], 'config.yaml');
  });

  test('the environment overrides the file, one setting at a time; empty means unset', () => {
    const { values } = parseConfigYaml('retention:\n  max_age_days: 90\n  max_count: 500\nbackup:\n  keep: 14\n', FILE);
    const s = resolveSafetySettings({ MCP_TASK_ORCHESTRATOR_RETENTION_MAX_AGE_DAYS: '30', MCP_TASK_ORCHESTRATOR_RETENTION_MAX_COUNT: '', MCP_TASK_ORCHESTRATOR_BACKUP_INTERVAL_HOURS: '0' }, values);
    assert.deepEqual(s.retention, { maxAgeDays: 30, maxCount: 500 });
    assert.deepEqual(s.backup, { intervalHours: 0, keep: 14 });
    assert.deepEqual(s.origins, { 'retention.max_age_days': 'environment', 'retention.max_count': 'config.yaml', 'backup.interval_hours': 'environment', 'backup.keep': 'config.yaml' });
  });

  test('0 turns a retention rule off, also over a file that sets it', () => {
    const { values } = parseConfigYaml('retention:\n  max_count: 500\n', FILE);
    assert.deepEqual(resolveSafetySettings({ MCP_TASK_ORCHESTRATOR_RETENTION_MAX_COUNT: '0' }, values).retention, { maxAgeDays: null, maxCount: null });
  });

  test('an empty file, comments only, or an empty section: defaults', () => {
    for (const text of ['', '# nothing yet\n', 'retention:\n', 'retention:\n  max_count:\n']) {
      const { values, problems } = parseConfigYaml(text, FILE);
      assert.deepEqual(problems, [], text);
      assert.deepEqual(values, {}, text);
    }
  });

  const badFiles: [string, RegExp][] = [
    ['retention:\n  max_age: 30\n', /unknown setting "retention.max_age"; the settings of retention are max_age_days, max_count/],
    ['retension:\n  max_age_days: 30\n', /unknown section "retension"/],
    ['retention:\n  max_age_days: "30"\n', /retention.max_age_days is the text "30"; use a whole number of days/],
    ['retention:\n  max_age_days: 1.5\n', /retention.max_age_days is 1.5/],
    ['retention:\n  max_age_days: -1\n', /retention.max_age_days is -1/],
    ['backup:\n  keep: 0\n', /backup.keep is 0; use a whole number of backups from 1 to 10000/],
    ['backup: 7\n', /"backup" must be a mapping/],
    ['- retention\n', /must be a mapping of sections/],
    ['retention:\n  max_count: 1\n  max_count: 2\n', /not valid YAML/],
    ['retention: [\n', /not valid YAML/],
  ];
  for (const [text, expected] of badFiles) {
    test(`refused, naming the file and the fix: ${JSON.stringify(text)}`, () => {
      const { problems } = parseConfigYaml(text, FILE);
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, expected);
      assert.ok(problems[0]!.includes(FILE));
    });
  }

  test('bad variables are refused, every problem at once, file problems included', () => {
    const message = refusal(() => resolveSafetySettings({ MCP_TASK_ORCHESTRATOR_BACKUP_KEEP: 'seven', MCP_TASK_ORCHESTRATOR_BACKUP_INTERVAL_HOURS: '9999' }, {}, ['the file problem']));
    assert.match(message, /MCP_TASK_ORCHESTRATOR_BACKUP_KEEP is "seven"/);
    assert.match(message, /MCP_TASK_ORCHESTRATOR_BACKUP_INTERVAL_HOURS is "9999"; use a whole number of hours from 0 to 8760/);
    assert.match(message, /the file problem/);
  });
});

describe('reading .task_orchestrator/config.yaml', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-settings-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('no file: defaults; a file: its values; a bad one: refused', async () => {
    const root = path.join(dir, 'a');
    await mkdir(root);
    assert.deepEqual(readSafetySettings(root, {}).backup, { intervalHours: 24, keep: 7 });
    await writeFile(path.join(root, 'config.yaml'), 'backup:\n  keep: 3\n');
    assert.equal(readSafetySettings(root, {}).backup.keep, 3);
    await writeFile(path.join(root, 'config.yaml'), 'backup:\n  kept: 3\n');
    assert.match(refusal(() => readSafetySettings(root, {})), /unknown setting "backup.kept"/);
  });

  test('a symbolic link in its place is never followed', { skip: process.platform === 'win32' }, async () => {
    const root = path.join(dir, 'b');
    await mkdir(root);
    await writeFile(path.join(dir, 'elsewhere.yaml'), 'backup:\n  keep: 3\n');
    await symlink(path.join(dir, 'elsewhere.yaml'), path.join(root, 'config.yaml'));
    assert.match(refusal(() => readSafetySettings(root, {})), /cannot be read/);
  });
});
