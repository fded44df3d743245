import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readJson, removeDir, runCli, tempDir, writeText } from '../cli/helpers.js';

let home: string;
let project: string;
before(async () => {
  home = await tempDir('orchestrator-home-');
  project = await realpath(await tempDir('orchestrator-project-'));
});
after(async () => {
  await removeDir(home);
  await removeDir(project);
});

const URL_ = 'http://127.0.0.1:8808/mcp';

function setup(args: string[], cwd = project) {
  return runCli(['setup', ...args], { cwd, env: { HOME: home, APPDATA: '' } });
}

/** Each client that takes a URL: its file, the key of its servers, and the entry it must get, token only referred to. */
const HTTP_CLIENTS: { client: string; args: string[]; file: () => string; key: string; entry: Record<string, unknown> }[] = [
  { client: 'claude-code', args: [], file: () => path.join(project, '.mcp.json'), key: 'mcpServers', entry: { type: 'http', url: URL_, headers: { Authorization: 'Bearer ${MCP_TASK_ORCHESTRATOR_HTTP_TOKEN}' } } },
  { client: 'claude-code', args: ['--scope', 'user'], file: () => path.join(home, '.claude.json'), key: 'mcpServers', entry: { type: 'http', url: URL_, headers: { Authorization: 'Bearer ${MCP_TASK_ORCHESTRATOR_HTTP_TOKEN}' } } },
  { client: 'cursor', args: [], file: () => path.join(project, '.cursor', 'mcp.json'), key: 'mcpServers', entry: { url: URL_, headers: { Authorization: 'Bearer ${env:MCP_TASK_ORCHESTRATOR_HTTP_TOKEN}' } } },
  { client: 'vscode', args: [], file: () => path.join(project, '.vscode', 'mcp.json'), key: 'servers', entry: { type: 'http', url: URL_, headers: { Authorization: 'Bearer ${input:task-orchestrator-token}' } } },
  { client: 'windsurf', args: [], file: () => path.join(home, '.codeium', 'windsurf', 'mcp_config.json'), key: 'mcpServers', entry: { serverUrl: URL_, headers: { Authorization: 'Bearer ${env:MCP_TASK_ORCHESTRATOR_HTTP_TOKEN}' } } },
];

describe('setup <client> --http URL writes an entry that connects to the server, the token referred to, never written', () => {
  for (const { client, args, file, key, entry } of HTTP_CLIENTS) {
    test(`${client} ${args.join(' ')}`.trim(), async () => {
      await writeText(file(), JSON.stringify({ theme: 'dark', [key]: { other: { command: 'x' }, 'task-orchestrator': { command: 'node', args: ['old.js'], env: { A: '1' }, disabled: false } } }));
      const { code, stdout, stderr } = await setup([client, ...args, '--http', URL_]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /Updated the "task-orchestrator" server/);
      const config = await readJson(file());
      assert.equal(config.theme, 'dark');
      assert.deepEqual(config[key].other, { command: 'x' }, 'other servers untouched');
      assert.deepEqual(config[key]['task-orchestrator'], { ...entry, disabled: false }, 'the stdio keys are gone, what the user added is kept');
      if (client === 'vscode') {
        assert.deepEqual(config.inputs, [{ type: 'promptString', id: 'task-orchestrator-token', description: config.inputs[0].description, password: true }]);
        assert.match(stdout, /VS Code asks for the token the first time it connects and keeps it in its secret storage/);
      } else {
        assert.match(stdout, /reads it from MCP_TASK_ORCHESTRATOR_HTTP_TOKEN in the environment it starts with/);
      }
      const again = await setup([client, ...args, '--http', URL_]);
      assert.match(again.stdout, /Already configured.*Nothing changed/);
    });
  }
});

describe('setup --http', () => {
  test('names the token file of the project it runs in, when a server there generated one; never its content', async () => {
    const dir = await tempDir();
    try {
      const file = path.join(await realpath(dir), '.task_orchestrator', 'http-token');
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, 'the-secret-token-value-0123456789abcdef\n', { mode: 0o600 });
      const { code, stdout } = await setup(['cursor', '--http', URL_], dir);
      assert.equal(code, 0);
      assert.ok(stdout.includes(`export MCP_TASK_ORCHESTRATOR_HTTP_TOKEN="$(cat ${file})"`), stdout);
      const written = await readFile(path.join(dir, '.cursor', 'mcp.json'), 'utf8');
      assert.ok(!written.includes('the-secret-token-value') && !stdout.includes('the-secret-token-value'));
    } finally {
      await removeDir(dir);
    }
  });

  test('VS Code keeps other inputs and replaces its own', async () => {
    const file = path.join(project, '.vscode', 'mcp.json');
    const mine = { type: 'promptString', id: 'task-orchestrator-token', description: 'old', password: true };
    await writeText(file, JSON.stringify({ inputs: [{ type: 'promptString', id: 'api-key', description: 'other' }, mine], servers: {} }));
    assert.equal((await setup(['vscode', '--http', URL_])).code, 0);
    const config = await readJson(file);
    assert.deepEqual(config.inputs.map((i: { id: string }) => i.id), ['api-key', 'task-orchestrator-token']);
    assert.notEqual(config.inputs[1].description, 'old');
  });

  test('a bare server address gets /mcp; --print writes nothing', async () => {
    const fresh = await tempDir('orchestrator-home-');
    try {
      const { code, stdout } = await runCli(['setup', 'windsurf', '--http', 'http://localhost:9000', '--print'], { env: { HOME: fresh } });
      assert.equal(code, 0);
      assert.match(stdout, /Would create .*mcp_config\.json/);
      assert.match(stdout, /"serverUrl": "http:\/\/localhost:9000\/mcp"/);
      assert.ok(!existsSync(path.join(fresh, '.codeium')));
    } finally {
      await removeDir(fresh);
    }
  });

  test('switching back to a local server drops the URL and headers', async () => {
    const file = path.join(home, '.codeium', 'windsurf', 'mcp_config.json');
    await writeText(file, JSON.stringify({ mcpServers: { 'task-orchestrator': { serverUrl: URL_, headers: { Authorization: 'x' }, disabled: true } } }));
    assert.equal((await runCli(['setup', 'windsurf', '--base-dir', project], { cwd: project, env: { HOME: home, PATH: '' } })).code, 0);
    const entry = (await readJson(file)).mcpServers['task-orchestrator'];
    assert.equal(entry.serverUrl, undefined);
    assert.equal(entry.headers, undefined);
    assert.equal(entry.disabled, true);
    assert.ok(entry.command);
  });

  test('plain http:// to another machine is written with a warning about the token in clear', async () => {
    const { code, stdout } = await setup(['cursor', '--http', 'http://tasks.internal:8808/mcp', '--print']);
    assert.equal(code, 0);
    assert.match(stdout, /Warning: tasks\.internal:8808 is reached over plain http:\/\/, so the token crosses the network unencrypted/);
  });

  test('clients that take no URL are refused with what to do instead; a bad URL is refused', async () => {
    const desktop = await setup(['claude-desktop', '--http', URL_]);
    assert.equal(desktop.code, 2);
    assert.match(desktop.stderr, /Claude Desktop cannot take --http: its configuration file only starts local servers .*Instead, run "task-orchestrator setup claude-desktop" without --http/);
    const cline = await setup(['cline', '--http', URL_]);
    assert.equal(cline.code, 2);
    assert.match(cline.stderr, /Cline cannot take --http: .*expands no variable in its headers.*Add it by hand in Cline's MCP Servers panel/);
    for (const bad of ['127.0.0.1:8808', 'ftp://host/mcp', 'http://user:pw@host/mcp']) {
      const { code, stderr } = await setup(['cursor', '--http', bad]);
      assert.equal(code, 2, bad);
      assert.match(stderr, /^error: --http/, bad);
    }
  });
});
