import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chooseProjectFolder, DATABASE_URL, DB_POOL_SIZE_BOUNDS, DB_STATEMENT_TIMEOUT_BOUNDS, INSTALL_DIR, InvalidSettingError, LEASE_SECONDS_BOUNDS, LOCK_STALE_BOUNDS, LOCK_TIMEOUT_BOUNDS, projectDirProblem, readSettings } from '../../src/config.js';
import { FileLogger } from '../../src/logging/logger.js';

const LEVEL = 'MCP_TASK_ORCHESTRATOR_LOG_LEVEL';
const TIMEOUT = 'MCP_TASK_ORCHESTRATOR_LOCK_TIMEOUT_MS';
const STALE = 'MCP_TASK_ORCHESTRATOR_LOCK_STALE_MS';
const POOL = 'MCP_TASK_ORCHESTRATOR_DB_POOL_SIZE';
const STATEMENT = 'MCP_TASK_ORCHESTRATOR_DB_STATEMENT_TIMEOUT_MS';

function refusal(env: NodeJS.ProcessEnv): string {
  try {
    readSettings(env);
  } catch (error) {
    assert.ok(error instanceof InvalidSettingError, `expected InvalidSettingError, got ${String(error)}`);
    return error.message;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

describe('readSettings', () => {
  test('defaults, and an empty or blank value counts as unset', () => {
    const expected = { baseDirFromEnv: null, baseDirOrigin: 'MCP_TASK_ORCHESTRATOR_BASE_DIR', configDir: null, logLevel: 'info', lockTimeoutMs: 10_000, lockStaleMs: 30_000, leaseMs: 900_000, databaseUrl: null, databaseUrlOrigin: DATABASE_URL, dbPoolSize: 10, dbStatementTimeoutMs: 15_000, keyring: { current: null, previous: [] }, keyWarnings: [] };
    assert.deepEqual(readSettings({}), expected);
    const blank = { MCP_TASK_ORCHESTRATOR_BASE_DIR: '', MCP_TASK_ORCHESTRATOR_CONFIG_DIR: ' ', [LEVEL]: '', [TIMEOUT]: '', [STALE]: '  ', [DATABASE_URL]: ' ', [POOL]: '', [STATEMENT]: '' };
    assert.deepEqual(readSettings(blank), expected);
  });

  for (const [value, level] of [['ERROR', 'error'], ['Debug', 'debug'], [' warn ', 'warn'], ['WARNING', 'warn'], ['info', 'info']] as const) {
    test(`log level ${JSON.stringify(value)} is ${level}`, () => {
      assert.equal(readSettings({ [LEVEL]: value }).logLevel, level);
    });
  }

  for (const value of ['verbose', 'trace', '0', 'err']) {
    test(`log level ${JSON.stringify(value)} is refused, naming the variable and the allowed values`, () => {
      assert.equal(refusal({ [LEVEL]: value }), `${LEVEL} is ${JSON.stringify(value)}: use debug, info, warn or error (any case), or leave it unset for info.`);
    });
  }

  for (const [name, bounds] of [[TIMEOUT, LOCK_TIMEOUT_BOUNDS], [STALE, LOCK_STALE_BOUNDS]] as const) {
    test(`${name}: the bounds ${bounds.min} and ${bounds.max} are accepted, surrounding blanks ignored`, () => {
      const key = name === TIMEOUT ? 'lockTimeoutMs' : 'lockStaleMs';
      assert.equal(readSettings({ [name]: String(bounds.min) })[key], bounds.min);
      assert.equal(readSettings({ [name]: ` ${bounds.max} ` })[key], bounds.max);
    });

    for (const value of [String(bounds.min - 1), String(bounds.max + 1), '0', '-5', '1.5', '1e4', '10s', 'abc', '0x100', 'Infinity']) {
      test(`${name}=${JSON.stringify(value)} is refused with the bounds`, () => {
        assert.match(refusal({ [name]: value }), new RegExp(`^${name} is "${value.replace('.', '\\.')}": use a whole number of milliseconds from ${bounds.min} \\(.+\\) to ${bounds.max} \\(.+\\), or leave it unset for ${bounds.default}\\.$`));
      });
    }
  }

  test('MCP_TASK_ORCHESTRATOR_DATABASE_URL: a postgres:// or postgresql:// URL, kept as given; anything else refused with its password hidden', () => {
    for (const url of ['postgres://u:p@db.example.com:5432/tasks?sslmode=verify-full', 'postgresql://db/tasks', 'postgres:///tasks?host=/var/run/postgresql']) {
      assert.equal(readSettings({ [DATABASE_URL]: ` ${url} ` }).databaseUrl, url);
    }
    for (const [value, shown, why] of [
      ['mysql://u:s3cret@h/db', 'mysql://u:***@h/db', 'it starts with "mysql://", not postgres:// or postgresql://'],
      ['postgres://u:s3cret@h/db?sslmode=sometimes', 'postgres://u:***@h/db?sslmode=sometimes', 'sslmode=sometimes is not one of disable, prefer, require, verify-ca, verify-full, no-verify'],
      ['postgres:/tasks', 'postgres:/tasks', 'it names no host'],
      ['postgres://u:s3cret@/db', 'postgres://***', 'it is not a URL'],
      ['db.example.com/tasks', '***', 'it is not a URL'],
    ]) {
      const message = refusal({ [DATABASE_URL]: value });
      assert.ok(message.startsWith(`${DATABASE_URL} is "${shown}": ${why}`), message);
      assert.doesNotMatch(message, /s3cret/);
    }
  });

  test('pool size and statement timeout: whole numbers within their bounds', () => {
    assert.equal(readSettings({ [POOL]: String(DB_POOL_SIZE_BOUNDS.max) }).dbPoolSize, DB_POOL_SIZE_BOUNDS.max);
    assert.equal(readSettings({ [STATEMENT]: String(DB_STATEMENT_TIMEOUT_BOUNDS.min) }).dbStatementTimeoutMs, DB_STATEMENT_TIMEOUT_BOUNDS.min);
    assert.equal(refusal({ [POOL]: '0' }), `${POOL} is "0": use a whole number of connections from 1 to 100, or leave it unset for 10.`);
    assert.match(refusal({ [STATEMENT]: '15s' }), new RegExp(`^${STATEMENT} is "15s": use a whole number of milliseconds from 100 \\(0\\.1 s\\) to 600000 \\(10 min\\)`));
  });

  test('MCP_TASK_ORCHESTRATOR_LEASE_SECONDS: seconds from 1 to 86400, in milliseconds; anything else refused with the bounds', () => {
    const name = 'MCP_TASK_ORCHESTRATOR_LEASE_SECONDS';
    assert.equal(readSettings({ [name]: '1' }).leaseMs, 1_000);
    assert.equal(readSettings({ [name]: ' 86400 ' }).leaseMs, 86_400_000);
    assert.equal(LEASE_SECONDS_BOUNDS.default, 900);
    for (const value of ['0', '86401', '1.5', '-1', '15m', 'abc']) {
      assert.equal(refusal({ [name]: value }), `${name} is ${JSON.stringify(value)}: use a whole number of seconds from 1 (1 s) to 86400 (24 h), or leave it unset for 900.`);
    }
  });

  test('the stale bound leaves the lock heartbeat (stale/4, at least 50 ms) room: at least four beats per stale period', () => {
    assert.ok(LOCK_STALE_BOUNDS.min / 4 >= 50);
    assert.equal(LOCK_STALE_BOUNDS.max, 3_600_000, 'the spec\'s outer bound: 1 hour');
  });

  test('every invalid variable is named in one message', () => {
    const message = refusal({ [LEVEL]: 'loud', [TIMEOUT]: 'x', [STALE]: '1' });
    assert.deepEqual(message.split('\n').map((line) => line.split(' ')[0]), [LEVEL, TIMEOUT, STALE]);
  });

  test('a long value is cut in the message', () => {
    assert.ok(refusal({ [LEVEL]: 'x'.repeat(5000) }).length < 300);
  });
});

describe('the log level reaches the logger', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-config-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('MCP_TASK_ORCHESTRATOR_LOG_LEVEL=ERROR logs errors only (it once turned on debug logging)', async () => {
    const logger = new FileLogger({ level: readSettings({ [LEVEL]: 'ERROR' }).logLevel, stderr: false });
    logger.attach(dir);
    logger.debug('a debug line');
    logger.info('an info line');
    logger.warn('a warning');
    logger.error('an error');
    await logger.close();
    const lines = (await readFile(path.join(dir, 'orchestrator.log'), 'utf8')).trim().split('\n');
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /ERROR .* an error$/);
  });

  test('an unknown level is a bug, not "log everything"', () => {
    assert.throws(() => new FileLogger({ level: 'loud' as never }), /Unknown log level "loud"/);
  });
});

describe('projectDirProblem', () => {
  let dir: string;
  let savedHome: string | undefined;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-config-'));
    savedHome = process.env.HOME;
  });
  after(async () => {
    process.env.HOME = savedHome;
    await rm(dir, { recursive: true, force: true });
  });

  test('an existing, writable folder is usable', () => {
    assert.equal(projectDirProblem(dir), null);
  });

  test('the root, also through a symbolic link', async () => {
    assert.equal(projectDirProblem(path.parse(dir).root), 'it is the root of the file system');
    await symlink(path.parse(dir).root, path.join(dir, 'to-root'));
    assert.equal(projectDirProblem(path.join(dir, 'to-root')), 'it is the root of the file system');
  });

  test('the home folder itself, not a folder inside it', async () => {
    const home = path.join(dir, 'home');
    await mkdir(path.join(home, 'project'), { recursive: true });
    process.env.HOME = home;
    try {
      assert.equal(projectDirProblem(home), 'it is the home folder itself, not a project in it');
      assert.equal(projectDirProblem(path.join(home, 'project')), null);
    } finally {
      process.env.HOME = savedHome;
    }
  });

  test('the install folder and what is inside it, also through a symbolic link, unless a person named it', async () => {
    const link = path.join(dir, 'to-install');
    await symlink(INSTALL_DIR, link);
    for (const candidate of [INSTALL_DIR, path.join(INSTALL_DIR, 'src'), link, path.join(link, 'src')]) {
      assert.equal(projectDirProblem(candidate), 'it is the folder task-orchestrator is installed in', candidate);
      assert.equal(projectDirProblem(candidate, { named: true }), null, candidate);
    }
  });

  test('a named folder is still refused for everything else', () => {
    assert.equal(projectDirProblem(path.parse(dir).root, { named: true }), 'it is the root of the file system');
    assert.equal(projectDirProblem(path.join(dir, 'missing'), { named: true }), 'it does not exist');
  });

  test('a missing folder, a file, a NUL character', async () => {
    assert.equal(projectDirProblem(path.join(dir, 'missing')), 'it does not exist');
    const file = path.join(dir, 'file.txt');
    await writeFile(file, 'x');
    assert.equal(projectDirProblem(file), 'it is a file, not a folder');
    assert.equal(projectDirProblem(path.join(file, 'below')), 'it does not exist');
    assert.equal(projectDirProblem(`${dir}\0x`), 'the path contains a NUL character');
  });

  test('chooseProjectFolder: the variable first, else the working directory, each named as the origin', () => {
    const missing = path.join(dir, 'missing');
    assert.deepEqual(chooseProjectFolder(readSettings({ MCP_TASK_ORCHESTRATOR_BASE_DIR: missing }), dir), { dir: missing, origin: 'MCP_TASK_ORCHESTRATOR_BASE_DIR', problem: 'it does not exist' });
    assert.deepEqual(chooseProjectFolder(readSettings({}), dir), { dir, origin: 'the working directory', problem: null });
  });
});

describe('readSettings: encryption keys', () => {
  test('a key that cannot be used is refused with the other settings, naming the variable', () => {
    const message = refusal({ MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY: 'not-a-key', [TIMEOUT]: 'soon' });
    assert.match(message, /MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY is not a key/);
    assert.match(message, new RegExp(TIMEOUT));
  });

  test('a valid key is loaded once, as the current key', () => {
    const settings = readSettings({ MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') });
    assert.match(settings.keyring.current?.id ?? '', /^[0-9a-f]{16}$/);
  });
});
