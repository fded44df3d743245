import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readFile, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, readJson, removeDir, runCli, tempDir, writeText } from './helpers.js';

let home: string;
let project: string;
/** The project as the child sees its working folder (symbolic links resolved). */
let projectReal: string;
/** A PATH with no task-orchestrator on it, so that each test says what PATH holds. */
let emptyPath: string;
before(async () => {
  home = await tempDir('orchestrator-home-');
  project = await tempDir('orchestrator-project-');
  projectReal = await realpath(project);
  emptyPath = await tempDir('orchestrator-path-');
});
after(async () => {
  await removeDir(home);
  await removeDir(project);
  await removeDir(emptyPath);
});

function setup(args: string[], env: Record<string, string> = {}, cwd = project) {
  return runCli(['setup', ...args], { cwd, env: { HOME: home, APPDATA: '', PATH: emptyPath, ...env } });
}

const OTHER = { command: 'uvx', args: ['other-server'], env: { TOKEN: 'secret' } };

/**
 * Each client's file (for the Linux platform unless said otherwise), the key holding its servers, its
 * product name, and the project folder its entry names: 'project' (the folder setup ran in), the
 * workspace variable, or none when the client starts the server in the project itself.
 */
const CLIENT_FILES: { client: string; args: string[]; file: () => string; key: string; product: string; baseDir: 'project' | '${workspaceFolder}' | null }[] = [
  { client: 'claude-code', args: [], file: () => path.join(project, '.mcp.json'), key: 'mcpServers', product: 'Claude Code', baseDir: null },
  { client: 'claude-code', args: ['--scope', 'user'], file: () => path.join(home, '.claude.json'), key: 'mcpServers', product: 'Claude Code', baseDir: null },
  { client: 'claude-desktop', args: [], file: () => path.join(home, '.config', 'Claude', 'claude_desktop_config.json'), key: 'mcpServers', product: 'Claude Desktop', baseDir: 'project' },
  { client: 'claude-desktop', args: ['--platform', 'darwin'], file: () => path.join(home, 'Library', 'Application Support', 'Claude', 'claude_desktop_config.json'), key: 'mcpServers', product: 'Claude Desktop', baseDir: 'project' },
  { client: 'cursor', args: [], file: () => path.join(project, '.cursor', 'mcp.json'), key: 'mcpServers', product: 'Cursor', baseDir: '${workspaceFolder}' },
  { client: 'cursor', args: ['--scope', 'user'], file: () => path.join(home, '.cursor', 'mcp.json'), key: 'mcpServers', product: 'Cursor', baseDir: 'project' },
  { client: 'vscode', args: [], file: () => path.join(project, '.vscode', 'mcp.json'), key: 'servers', product: 'VS Code', baseDir: '${workspaceFolder}' },
  { client: 'vscode', args: ['--scope', 'user', '--platform', 'win32'], file: () => path.join(home, 'AppData', 'Roaming', 'Code', 'User', 'mcp.json'), key: 'servers', product: 'VS Code', baseDir: 'project' },
  { client: 'windsurf', args: [], file: () => path.join(home, '.codeium', 'windsurf', 'mcp_config.json'), key: 'mcpServers', product: 'Windsurf', baseDir: 'project' },
  { client: 'cline', args: [], file: () => path.join(home, '.config', 'Code', 'User', 'globalStorage', 'saoudrizwan.claude-dev', 'settings', 'cline_mcp_settings.json'), key: 'mcpServers', product: 'Cline', baseDir: 'project' },
];

describe('setup merges into each client\'s existing file', () => {
  for (const { client, args, file, key, product, baseDir } of CLIENT_FILES) {
    test(`${client} ${args.join(' ')}`.trim(), async () => {
      await writeText(file(), JSON.stringify({ theme: 'dark', [key]: { other: OTHER } }, null, 4));
      const { code, stdout, stderr } = await setup([client, ...args]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /Added the "task-orchestrator" server to .*\(1 other server\(s\) kept as they are\)/);
      assert.ok(stdout.includes(`Restart ${product} to load it.`), `the product is named: ${stdout}`);
      const config = await readJson(file());
      assert.equal(config.theme, 'dark', 'other settings are kept');
      assert.deepEqual(config[key].other, OTHER, 'other servers are untouched');
      const entry = config[key]['task-orchestrator'];
      assert.equal(entry.command, process.execPath);
      assert.deepEqual(entry.args, [CLI, 'serve']);
      assert.equal(entry.env?.MCP_TASK_ORCHESTRATOR_BASE_DIR, baseDir === 'project' ? projectReal : (baseDir ?? undefined), 'the entry finds the project');
      if (baseDir === 'project') assert.ok(stdout.includes(`Tasks are kept in ${path.join(projectReal, '.task_orchestrator')} (MCP_TASK_ORCHESTRATOR_BASE_DIR), whatever folder ${product} starts the server in`), stdout);
      if (baseDir === '${workspaceFolder}') assert.ok(stdout.includes(`Tasks are kept in .task_orchestrator/ of the folder ${product} has open (\${workspaceFolder})`), stdout);
      if (baseDir === null) assert.ok(stdout.includes(`${product} starts the server in the folder you run it in`), stdout);
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
    assert.match(stdout, /"tasks": \{\n\s+"command": "npx",\n\s+"args": \[\n\s+"-y",\n\s+"mcp-task-orchestrator",\n\s+"serve"/);
    assert.match(stdout, /It starts "npx -y mcp-task-orchestrator serve"/);
  });

  test('an unknown client or a scope the client lacks is a usage error', async () => {
    const unknown = await setup(['notepad']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown client "notepad"; use one of claude-code, claude-desktop, cursor, vscode, windsurf, cline/);
    const missing = await setup(['cursor', '--base-dir', path.join(project, 'no-such-folder')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no-such-folder \(--base-dir\) cannot be used: it does not exist/);
    const scope = await setup(['windsurf', '--scope', 'project']);
    assert.equal(scope.code, 2);
    assert.match(scope.stderr, /windsurf has no "project" scope; use --scope user/);
  });
});

describe('setup chooses the command the client runs', () => {
  let bins: string;
  let fresh: string;
  before(async () => {
    fresh = await tempDir('orchestrator-project-');
    bins = await tempDir('orchestrator-bins-');
    await mkdir(path.join(bins, 'ours'));
    await mkdir(path.join(bins, 'theirs'));
    // What npm install -g and npm link make: a link to dist/cli/main.js, which they make executable.
    await chmod(CLI, 0o755);
    await symlink(CLI, path.join(bins, 'ours', 'task-orchestrator'));
    await writeFile(path.join(bins, 'theirs', 'task-orchestrator'), '#!/bin/sh\necho somebody else\n', { mode: 0o755 });
  });
  after(async () => {
    await removeDir(bins);
    await removeDir(fresh);
  });

  const entryOf = async (file: string, key = 'mcpServers') => (await readJson(file))[key]['task-orchestrator'];

  test('"task-orchestrator" when PATH finds this installation', async () => {
    const ours = path.join(bins, 'ours');
    const { code, stdout, stderr } = await setup(['cursor', '--print'], { PATH: [emptyPath, ours].join(path.delimiter) }, fresh);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /"command": "task-orchestrator",\n\s+"args": \[\n\s+"serve"\n\s+\]/);
    assert.ok(stdout.includes(`It starts "task-orchestrator serve", found on your PATH at ${path.join(ours, 'task-orchestrator')} (this installation)`), stdout);
    const written = await setup(['vscode'], { PATH: ours }, fresh);
    assert.equal(written.code, 0, written.stderr);
    assert.deepEqual(await entryOf(path.join(fresh, '.vscode', 'mcp.json'), 'servers'), { type: 'stdio', command: 'task-orchestrator', args: ['serve'], env: { MCP_TASK_ORCHESTRATOR_BASE_DIR: '${workspaceFolder}' } });
  });

  test('the absolute Node and script when the task-orchestrator on PATH is another installation, or none is', async () => {
    const theirs = path.join(bins, 'theirs', 'task-orchestrator');
    const other = await setup(['windsurf', '--print'], { PATH: [path.dirname(theirs), path.join(bins, 'ours')].join(path.delimiter) });
    assert.equal(other.code, 0, other.stderr);
    assert.ok(other.stdout.includes(`"command": ${JSON.stringify(process.execPath)}`), other.stdout);
    assert.ok(other.stdout.includes(`The task-orchestrator on your PATH (${theirs}) is another installation, so it starts ${process.execPath} ${CLI} serve: if you move or delete ${path.resolve(CLI, '../../..')} or that Node, run setup again.`), other.stdout);
    const none = await setup(['windsurf', '--print']);
    assert.ok(none.stdout.includes(`task-orchestrator is not on your PATH, so it starts ${process.execPath} ${CLI} serve`), none.stdout);
  });

  test('the absolute Node and script for Claude Desktop, which does not see the shell\'s PATH, and on Windows', async () => {
    const ours = path.join(bins, 'ours');
    const desktop = await setup(['claude-desktop', '--print'], { PATH: ours });
    assert.ok(desktop.stdout.includes(`"command": ${JSON.stringify(process.execPath)}`), desktop.stdout);
    assert.match(desktop.stdout, /Claude Desktop does not start servers with your shell's PATH, so it starts /);
    const windows = await setup(['cursor', '--print', '--platform', 'win32'], { PATH: ours }, fresh);
    assert.ok(windows.stdout.includes(`"command": ${JSON.stringify(process.execPath)}`), windows.stdout);
    assert.match(windows.stdout, /On Windows npm's task-orchestrator\.cmd needs a shell/);
  });
});

describe('setup refuses a folder that cannot be the project', () => {
  test('the home folder, for a user-wide file that would name it and for a project file', async () => {
    for (const args of [['claude-desktop'], ['cline'], ['cursor', '--scope', 'user'], ['claude-code'], ['vscode', '--base-dir', home]]) {
      const { code, stdout, stderr } = await setup(args, {}, home);
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.equal(stdout, '');
      assert.match(stderr, /it is the home folder itself, not a project in it\. (Run this in the project, or pass --base-dir|Pass the project's folder)\./);
    }
    assert.ok(!existsSync(path.join(home, '.mcp.json')) && !existsSync(path.join(home, '.vscode')), 'no project file in the home folder');
  });

  test('the root of the file system', async () => {
    const fresh = await tempDir('orchestrator-home-');
    try {
      const { code, stderr } = await setup(['windsurf'], { HOME: fresh }, path.parse(project).root);
      assert.equal(code, 2);
      assert.match(stderr, /cannot be a project folder: it is the root of the file system\. Run this in the project, or pass --base-dir/);
      assert.ok(!existsSync(path.join(fresh, '.codeium')), 'nothing written');
    } finally {
      await removeDir(fresh);
    }
  });

  test('Claude Code\'s user-wide file needs no project: it works from the home folder', async () => {
    const fresh = await tempDir('orchestrator-home-');
    try {
      const { code, stdout, stderr } = await setup(['claude-code', '--scope', 'user'], { HOME: fresh }, fresh);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /Claude Code starts the server in the folder you run it in/);
      assert.equal((await readJson(path.join(fresh, '.claude.json'))).mcpServers['task-orchestrator'].env, undefined);
    } finally {
      await removeDir(fresh);
    }
  });
});
