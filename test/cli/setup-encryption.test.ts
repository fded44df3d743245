import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { keyIdOf } from '../../src/safety/encryption.js';
import { KEY_FILE_VARIABLE, loadKeyring } from '../../src/safety/key-source.js';
import { removeDir, runCli, tempDir } from './helpers.js';

const posix = process.platform !== 'win32';
let home: string;
before(async () => {
  home = await tempDir('orchestrator-key-home-');
});
after(async () => {
  await removeDir(home);
});

const setupEncryption = (args: string[] = [], env: Record<string, string> = {}) => runCli(['setup', 'encryption', ...args], { cwd: home, env: { HOME: home, XDG_CONFIG_HOME: '', APPDATA: '', ...env } });

describe('task-orchestrator setup encryption', () => {
  const defaultFile = () => path.join(home, '.config', 'task-orchestrator', 'encryption.key');

  test('creates a private key file, prints where it is and its id, never the key', async () => {
    const result = await setupEncryption();
    assert.equal(result.code, 0, result.stderr);
    const content = await readFile(defaultFile());
    const material = Buffer.from(content.toString('utf8').trim(), 'base64');
    assert.equal(material.length, 32);
    assert.equal(content.toString('utf8'), `${material.toString('base64')}\n`);
    const id = keyIdOf(material);
    assert.match(result.stdout, new RegExp(`Key id: ${id}`));
    assert.ok(result.stdout.includes(defaultFile()));
    assert.match(result.stdout, /Keep a copy of this file somewhere other than this machine/);
    assert.ok(result.stdout.includes(`${KEY_FILE_VARIABLE}=${defaultFile()}`));
    assert.match(result.stdout, /task-orchestrator encrypt/, "it says to run encrypt next");
    for (const form of [material.toString('base64'), material.toString('base64url'), material.toString('hex')]) assert.ok(!`${result.stdout}${result.stderr}`.includes(form));
    if (posix) {
      assert.equal((await stat(defaultFile())).mode & 0o777, 0o600);
      assert.equal((await stat(path.dirname(defaultFile()))).mode & 0o777, 0o700);
    }
    const { keyring, warnings } = loadKeyring({ [KEY_FILE_VARIABLE]: defaultFile() });
    assert.equal(keyring.current?.id, id);
    assert.deepEqual(warnings, []);
    assert.deepEqual(await readdir(path.dirname(defaultFile())), ['encryption.key']); // no temp file left
  });

  test('never replaces a key file: exit 1, the file unchanged, its id named', async () => {
    const before = await readFile(defaultFile());
    const result = await setupEncryption();
    assert.equal(result.code, 1);
    assert.ok((await readFile(defaultFile())).equals(before));
    assert.match(result.stderr, /already exists, and setup never replaces a key/);
    assert.ok(result.stderr.includes(keyIdOf(Buffer.from(before.toString().trim(), 'base64'))));
    assert.equal(result.stdout, '');
  });

  test('never replaces any file there either', async () => {
    const file = path.join(home, 'notes.txt');
    await writeFile(file, 'my notes');
    const result = await setupEncryption(['--key-file', file]);
    assert.equal(result.code, 1);
    assert.equal(await readFile(file, 'utf8'), 'my notes');
    assert.match(result.stderr, /not a usable key file/);
  });

  test('--key-file: anywhere, with missing folders created; XDG_CONFIG_HOME moves the default', async () => {
    const custom = path.join(home, 'secrets', 'deep', 'tasks.key');
    assert.equal((await setupEncryption(['--key-file', custom])).code, 0);
    assert.equal(loadKeyring({ [KEY_FILE_VARIABLE]: custom }).keyring.current?.id.length, 16);
    const xdg = path.join(home, 'xdg');
    assert.equal((await setupEncryption([], { XDG_CONFIG_HOME: xdg })).code, 0);
    assert.ok(existsSync(path.join(xdg, 'task-orchestrator', 'encryption.key')));
  });

  test('refuses a place inside a .task_orchestrator folder (the key would sit beside the data and in its backups)', async () => {
    await mkdir(path.join(home, 'project', '.task_orchestrator'), { recursive: true });
    const file = path.join(home, 'project', '.task_orchestrator', 'roles', 'key');
    const result = await setupEncryption(['--key-file', file]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /inside a \.task_orchestrator folder/);
    assert.ok(!existsSync(path.dirname(file)));
  });
});
