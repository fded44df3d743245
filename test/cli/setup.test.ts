import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, lstat, readFile, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, readJson, removeDir, runCli, tempDir, writeText } from './helpers.js';

let home: string;
let project: string;
before(async () => {
  home = await tempDir('orchestrator-home-');
  project = await tempDir('orchestrator-project-');
});
after(async () => {
  await removeDir(home);
  await removeDir(project);
});

function setup(args: string[], env: Record<string, string> = {}) {
  return runCli(['setup', ...args], { cwd: project, env: { HOME: home, APPDATA: '', ...env } });
}

const OTHER = { command: 'uvx', args: ['other-server'], env: { TOKEN: 'secret' } };

/** Each client's file (for the Linux platform unless said otherwise) and the key holding its servers. */
const CLIENT_FILES: { client: string; args: string[]; file: () => string; key: string }[] = [
  { client: 'claude-code', args: [], file: () => path.join(project, '.mcp.json'), key: 'mcpServers' },
  { client: 'claude-code', args: ['--scope', 'user'], file: () => path.join(home, '.claude.json'), key: 'mcpServers' },
  { client: 'claude-desktop', args: [], file: () => path.join(home, '.config', 'Claude', 'claude_desktop_config.json'), key: 'mcpServers' },
  { client: 'claude-desktop', args: ['--platform', 'darwin'], file: () => path.join(home, 'Library', 'Application Support', 'Claude', 'claude_desktop_config.json'), key: 'mcpServers' },
  { client: 'cursor', args: [], file: () => path.join(project, '.cursor', 'mcp.json'), key: 'mcpServers' },
  { client: 'cursor', args: ['--scope', 'user'], file: () => path.join(home, '.cursor', 'mcp.json'), key: 'mcpServers' },
  { client: 'vscode', args: [], file: () => path.join(project, '.vscode', 'mcp.json'), key: 'servers' },
  { client: 'vscode', args: ['--scope', 'user', '--platform', 'win32'], file: () => path.join(home, 'AppData', 'Roaming', 'Code', 'User', 'mcp.json'), key: 'servers' },
  { client: 'windsurf', args: [], file: () => path.join(home, '.codeium', 'windsurf', 'mcp_config.json'), key: 'mcpServers' },
  { client: 'cline', args: [], file: () => path.join(home, '.config', 'Code', 'User', 'globalStorage', 'saoudrizwan.claude-dev', 'settings', 'cline_mcp_settings.json'), key: 'mcpServers' },
];

describe('setup merges into each client\'s existing file', () => {
  for (const { client, args, file, key } of CLIENT_FILES) {
    test(`${client} ${args.join(' ')}`.trim(), async () => {
      await writeText(file(), JSON.stringify({ theme: 'dark', [key]: { other: OTHER } }, null, 4));
      const { code, stdout, stderr } = await setup([client, ...args]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /Added the "task-orchestrator" server to .*\(1 other server\(s\) kept as they are\)/);
      const config = await readJson(file());
      assert.equal(config.theme, 'dark', 'other settings are kept');
      assert.deepEqual(config[key].other, OTHER, 'other servers are untouched');
      const entry = config[key]['task-orchestrator'];
      assert.equal(entry.command, process.execPath);
      assert.deepEqual(entry.args, [CLI, 'serve']);
      if (key === 'servers') assert.equal(entry.type, 'stdio');
      const again = await setup([client, ...args]);
      assert.match(again.stdout, /Already configured.*Nothing changed/);
    });
  }
});

describe('setup', () => {
  test('creates a missing file; VS Code\'s workspace file points the server at the workspace', async () => {
    const dir = await tempDir();
    try {
      const { code } = await runCli(['setup', 'vscode', '--base-dir', dir], { env: { HOME: home } });
      assert.equal(code, 0);
      const config = await readJson(path.join(dir, '.vscode', 'mcp.json'));
      assert.equal(config.servers['task-orchestrator'].env.MCP_TASK_ORCHESTRATOR_BASE_DIR, '${workspaceFolder}');
    } finally {
      await removeDir(dir);
    }
  });

  test('--print shows the change and writes nothing', async () => {
    const fresh = await tempDir('orchestrator-home-');
    try {
      const { code, stdout } = await runCli(['setup', 'windsurf', '--print'], { env: { HOME: fresh } });
      assert.equal(code, 0);
      assert.match(stdout, /Would create .*mcp_config\.json/);
      assert.match(stdout, /"task-orchestrator": \{/);
      assert.ok(!existsSync(path.join(fresh, '.codeium')));
    } finally {
      await removeDir(fresh);
    }
  });

  test('a malformed file is reported and never overwritten', async () => {
    const file = path.join(project, '.cursor', 'mcp.json');
    const broken = '{"mcpServers": {"other": ';
    await writeText(file, broken);
    const { code, stdout, stderr } = await setup(['cursor']);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /mcp\.json was left as it is: it is not valid JSON/);
    assert.match(stderr, /add this entry to it by hand/);
    assert.equal(await readFile(file, 'utf8'), broken);
  });

  test('a file with comments is left as it is, with the entry to add by hand', async () => {
    const file = path.join(project, '.vscode', 'mcp.json');
    const commented = '{\n  // my servers\n  "servers": {"other": {"command": "x"},},\n}\n';
    await writeText(file, commented);
    const { code, stderr } = await setup(['vscode']);
    assert.equal(code, 1);
    assert.match(stderr, /holds comments or trailing commas/);
    assert.equal(await readFile(file, 'utf8'), commented);
  });

  test('an update keeps what the user added to the entry', async () => {
    const file = path.join(home, '.config', 'Code', 'User', 'globalStorage', 'saoudrizwan.claude-dev', 'settings', 'cline_mcp_settings.json');
    await writeText(file, JSON.stringify({ mcpServers: { 'task-orchestrator': { command: 'old-node', args: ['old.js'], autoApprove: ['orchestrator_get_status'], env: { MCP_TASK_ORCHESTRATOR_LOG_LEVEL: 'debug' } } } }));
    const { code, stdout } = await setup(['cline', '--scope', 'user', '--base-dir', project]);
    assert.equal(code, 0);
    assert.match(stdout, /Updated the "task-orchestrator" server/);
    const entry = (await readJson(file)).mcpServers['task-orchestrator'];
    assert.equal(entry.command, process.execPath);
    assert.deepEqual(entry.autoApprove, ['orchestrator_get_status']);
    assert.deepEqual(entry.env, { MCP_TASK_ORCHESTRATOR_LOG_LEVEL: 'debug', MCP_TASK_ORCHESTRATOR_BASE_DIR: project });
  });

  test('a private file stays private; a symbolic link is followed, not replaced', async () => {
    const real = path.join(project, 'dotfiles', 'claude.json');
    await writeText(real, JSON.stringify({ mcpServers: {}, oauthAccount: 'x' }));
    await chmod(real, 0o600);
    const fakeHome = await tempDir('orchestrator-home-');
    try {
      await symlink(real, path.join(fakeHome, '.claude.json'));
      const { code, stderr } = await runCli(['setup', 'claude-code', '--scope', 'user'], { env: { HOME: fakeHome } });
      assert.equal(code, 0, stderr);
      const linked = await readJson(real);
      assert.equal(linked.oauthAccount, 'x');
      assert.ok(linked.mcpServers['task-orchestrator']);
      assert.equal((await stat(real)).mode & 0o777, 0o600);
      assert.ok((await lstat(path.join(fakeHome, '.claude.json'))).isSymbolicLink());
    } finally {
      await removeDir(fakeHome);
    }
  });

  test('--npx and --name', async () => {
    const { stdout } = await setup(['claude-desktop', '--print', '--npx', '--name', 'tasks']);
    assert.match(stdout, /"tasks": \{\n\s+"command": "npx",\n\s+"args": \[\n\s+"-y",\n\s+"task-orchestrator",\n\s+"serve"/);
  });

  test('an unknown client or a scope the client lacks is a usage error', async () => {
    const unknown = await setup(['notepad']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown client "notepad"; use one of claude-code, claude-desktop, cursor, vscode, windsurf, cline/);
    const missing = await setup(['cursor', '--base-dir', path.join(project, 'no-such-folder')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /the project folder .*no-such-folder \(--base-dir\) cannot be used: it does not exist/);
    const scope = await setup(['windsurf', '--scope', 'project']);
    assert.equal(scope.code, 2);
    assert.match(scope.stderr, /windsurf has no "project" scope; use --scope user/);
  });
});
