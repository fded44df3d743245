import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidSettingError } from '../../src/config.js';
import { keyIdOf } from '../../src/safety/encryption.js';
import { KEY_FILE_VARIABLE, KEY_VARIABLE, keyMaterial, loadKeyring, PREVIOUS_KEY_FILES_VARIABLE } from '../../src/safety/key-source.js';

const posix = process.platform !== 'win32';
let dir: string;
const material = randomBytes(32);
const id = keyIdOf(material);

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'orchestrator-keys-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function keyFile(name: string, content: string | Buffer, mode = 0o600): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, content);
  await chmod(file, mode);
  return file;
}

function refusal(env: NodeJS.ProcessEnv): string {
  try {
    loadKeyring(env);
  } catch (error) {
    assert.ok(error instanceof InvalidSettingError, String(error));
    return error.message;
  }
  return assert.fail('expected a refusal');
}

describe('key file formats', () => {
  const accepted: [string, Buffer | string][] = [
    ['raw 32 bytes', material],
    ['raw 32 bytes and a newline', Buffer.concat([material, Buffer.from('\n')])],
    ['base64 with padding', material.toString('base64')],
    ['base64 with padding and a newline', `${material.toString('base64')}\n`],
    ['base64 and a Windows newline', `${material.toString('base64')}\r\n`],
    ['base64url without padding', material.toString('base64url')],
  ];
  for (const [name, content] of accepted) {
    test(`accepted: ${name}`, async () => {
      const file = await keyFile(`ok-${name.replace(/\W/g, '_')}`, content);
      const { keyring, warnings } = loadKeyring({ [KEY_FILE_VARIABLE]: file });
      assert.equal(keyring.current?.id, id);
      assert.deepEqual(warnings, []);
    });
  }

  const refused: [string, Buffer | string][] = [
    ['empty', ''],
    ['31 bytes', material.subarray(0, 31)],
    ['33 bytes', Buffer.concat([material, Buffer.from('x')])],
    ['base64 of 31 bytes', material.subarray(0, 31).toString('base64')],
    ['base64 with two newlines', `${material.toString('base64')}\n\n`],
    ['base64 with a character out of the alphabet', `${material.toString('base64').slice(0, 10)}*${material.toString('base64').slice(11)}`],
    ['base64 with unused bits set', `${material.toString('base64url').slice(0, 42)}${String.fromCharCode(material.toString('base64url').charCodeAt(42) ^ 1)}`],
    ['hex', material.toString('hex')],
    ['a large file', randomBytes(4096)],
  ];
  for (const [name, content] of refused) {
    test(`refused: ${name}, with a message naming the variable, the file and the fix`, async () => {
      const file = await keyFile(`bad-${name.replace(/\W/g, '_')}`, content);
      const message = refusal({ [KEY_FILE_VARIABLE]: file });
      assert.match(message, new RegExp(KEY_FILE_VARIABLE));
      assert.ok(message.includes(file));
      assert.match(message, /setup encryption/);
    });
  }

  test('the unused-bits check is what refuses a near-miss', () => {
    const urlForm = material.toString('base64url');
    const last = urlForm.charCodeAt(42);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // A character that differs only in the two bits the decoder drops decodes to the same 32 bytes.
    const twin = [...alphabet].find((c) => c.charCodeAt(0) !== last && Buffer.from(`${urlForm.slice(0, 42)}${c}`, 'base64url').equals(material));
    assert.ok(twin);
    assert.equal(keyMaterial(Buffer.from(`${urlForm.slice(0, 42)}${twin}`)), null);
  });

  test('missing file, folder, and unreadable file are refused', async () => {
    assert.match(refusal({ [KEY_FILE_VARIABLE]: path.join(dir, 'nope') }), /does not exist/);
    await mkdir(path.join(dir, 'a-folder'), { recursive: true });
    assert.match(refusal({ [KEY_FILE_VARIABLE]: path.join(dir, 'a-folder') }), /not a regular file/);
    if (posix && process.getuid?.() !== 0) {
      const file = await keyFile('unreadable', material, 0o000);
      assert.match(refusal({ [KEY_FILE_VARIABLE]: file }), /permission denied/);
    }
  });

  test('a link to a key file is followed (secrets are often mounted as links)', async () => {
    const target = await keyFile('linked-target', material);
    const link = path.join(dir, 'link-to-key');
    await symlink(target, link);
    assert.equal(loadKeyring({ [KEY_FILE_VARIABLE]: link }).keyring.current?.id, id);
  });
});

describe('key file permissions', { skip: !posix }, () => {
  test('readable by others: accepted with a warning that says how to fix it', async () => {
    const file = await keyFile('readable', material, 0o644);
    const { keyring, warnings } = loadKeyring({ [KEY_FILE_VARIABLE]: file });
    assert.equal(keyring.current?.id, id);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /can be read by other users \(mode 0644\).*chmod 600/);
  });

  test('writable by group or others: refused', async () => {
    for (const mode of [0o620, 0o602]) {
      const file = await keyFile(`writable-${mode.toString(8)}`, material, mode);
      assert.match(refusal({ [KEY_FILE_VARIABLE]: file }), /can be changed by other users.*chmod 600/);
    }
  });
});

describe('keys in the environment', () => {
  test('no variable: encryption off', () => {
    const { keyring } = loadKeyring({});
    assert.equal(keyring.current, null);
    assert.deepEqual(keyring.previous, []);
  });

  test('the key in base64 (spaces around ignored)', () => {
    assert.equal(loadKeyring({ [KEY_VARIABLE]: ` ${material.toString('base64')} ` }).keyring.current?.id, id);
  });

  test('a bad key is refused naming the variable, never echoing the value', () => {
    const bad = material.toString('hex');
    const message = refusal({ [KEY_VARIABLE]: bad });
    assert.match(message, new RegExp(KEY_VARIABLE));
    assert.ok(!message.includes(bad));
  });

  test('both the file and the key set: refused', async () => {
    const file = await keyFile('both', material);
    assert.match(refusal({ [KEY_FILE_VARIABLE]: file, [KEY_VARIABLE]: material.toString('base64') }), /both set/);
  });

  test('previous keys are read for reading, and every problem is reported at once', async () => {
    const old = randomBytes(32);
    const oldFile = await keyFile('old', old.toString('base64'));
    const { keyring } = loadKeyring({ [KEY_VARIABLE]: material.toString('base64'), [PREVIOUS_KEY_FILES_VARIABLE]: `${oldFile}${path.delimiter}` });
    assert.deepEqual(keyring.previous.map((k) => k.id), [keyIdOf(old)]);
    const message = refusal({ [KEY_VARIABLE]: 'short', [PREVIOUS_KEY_FILES_VARIABLE]: path.join(dir, 'missing-old') });
    assert.match(message, new RegExp(KEY_VARIABLE));
    assert.match(message, new RegExp(PREVIOUS_KEY_FILES_VARIABLE));
  });
});
