#!/usr/bin/env node
import { Command, Option } from 'commander';
import { DEFAULT_HTTP_PORT } from '../config.js';
import { VERSION } from '../version.js';
import { BASE_DIR_HELP, DATABASE_URL_HELP, EXIT, exitQuietlyOnClosedPipe, runCommand } from './run.js';

/**
 * The command line: wiring only. Each command lives in its own file under commands/, loaded when it
 * runs (so that `status` does not pay for loading the MCP server); exit codes are in docs/cli.md.
 */
const program = new Command()
  .name('task-orchestrator')
  .description('MCP server that orchestrates complex work across specialist roles, stored durably in .task_orchestrator/')
  .version(VERSION)
  .showHelpAfterError()
  // A wrong command line exits with 2 (help and --version with 0), apart from the commands' own 1.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? EXIT.OK : EXIT.USAGE))
  .addHelpText('after', '\nExit codes: 0 done (doctor: healthy), 1 problems found or an operation failed, 2 wrong usage. See docs/cli.md.');

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ task-orchestrator ${l}`).join('\n')}`;

const collect = (value: string, previous: string[] = []) => [...previous, value];

program
  .command('serve')
  .description('Run the MCP server on stdio (what MCP clients start), or with --http one server for many clients')
  .option('--base-dir <dir>', BASE_DIR_HELP)
  .option('--database-url <url>', DATABASE_URL_HELP)
  .option('--http', 'serve MCP Streamable HTTP at /mcp instead of stdio (bearer token required; see README, "One server for many clients")')
  .option('--port <port>', `with --http: the port (default ${DEFAULT_HTTP_PORT}; 0 for any free one, printed on stderr)`)
  .option('--host <address>', 'with --http: the address to listen on (default 127.0.0.1; another one lets other machines connect and needs a token of at least 32 characters)')
  .option('--allowed-origin <origin>', 'with --http: also accept requests whose Host or Origin names this (a reverse proxy\'s name, a browser client\'s origin); repeatable', collect)
  .addHelpText('after', `${examples('serve --base-dir ~/code/my-project', 'serve --http', 'serve --http --port 0 --base-dir ~/code/my-project', 'serve --http --host 0.0.0.0 --allowed-origin https://tasks.example.com', 'serve --database-url postgres://orchestrator@db.example.com/tasks?sslmode=verify-full')}

With --http nothing is written to stdout; stderr starts with
  task-orchestrator: serving MCP over HTTP at http://127.0.0.1:${DEFAULT_HTTP_PORT}/mcp
  task-orchestrator: bearer token in <project>/.task_orchestrator/http-token   (or: from MCP_TASK_ORCHESTRATOR_HTTP_TOKEN)
SIGTERM or SIGINT stops it after the calls in flight (within 10 s). A port in use exits with 1.`)
  // Through runCommand, so that an invalid setting ends it at start with the message and exit code 2.
  .action((options: { baseDir?: string; http?: boolean; port?: string; host?: string; allowedOrigin?: string[]; databaseUrl?: string }) =>
    runCommand(async () => {
      await (await import('./commands/serve.js')).serve(options);
      return EXIT.OK; // serving goes on until the client closes stdin (over HTTP: until a signal)
    }),
  );

program
  .command('dashboard')
  .description('Open the browser dashboard of this project: starts "serve --http" unless a server already answers on the port, and prints the address')
  .option('--base-dir <dir>', BASE_DIR_HELP)
  .option('--database-url <url>', DATABASE_URL_HELP)
  .option('--port <port>', `the port (default ${DEFAULT_HTTP_PORT}; 0 for any free one)`)
  .option('--host <address>', 'the address to listen on (default 127.0.0.1)')
  .option('--allowed-origin <origin>', 'also accept requests whose Host or Origin names this; repeatable', collect)
  .addHelpText('after', `${examples('dashboard', 'dashboard --port 8900')}

Prints (on stderr) the address, e.g. http://127.0.0.1:${DEFAULT_HTTP_PORT}/, and where the token is; never the token.`)
  .action((options: { baseDir?: string; port?: string; host?: string; allowedOrigin?: string[]; databaseUrl?: string }) =>
    runCommand(async () => {
      await (await import('./commands/dashboard.js')).dashboard(options);
      return EXIT.OK;
    }),
  );

program
  .command('status')
  .description('Show every unfinished task with its progress, interrupted and blocked subtasks')
  .option('--all', 'include completed and archived tasks')
  .option('--json', 'print the same data as JSON, for scripts')
  .option('--base-dir <dir>', BASE_DIR_HELP)
  .option('--database-url <url>', DATABASE_URL_HELP)
  .addHelpText('after', examples('status', 'status --all', 'status --json | jq ".parents[].progress"'))
  .action((options) => runCommand(async () => (await import('./commands/status.js')).status(options)));

program
  .command('show')
  .description('Show one task or subtask in full: description, context, each subtask with role, dependencies, status, results, artifacts, timestamps')
  .argument('<id>', 'a parent task id (task_...) or a subtask id (task_....3)')
  .option('--json', 'print it as JSON')
  .option('--base-dir <dir>', BASE_DIR_HELP)
  .option('--database-url <url>', DATABASE_URL_HELP)
  .addHelpText('after', examples('show task_3f9a2c1b7e', 'show task_3f9a2c1b7e.2 --json'))
  .action((id: string, options) => runCommand(async () => (await import('./commands/show.js')).show(id, options)));

program
  .command('doctor')
  .description('Check .task_orchestrator/: layout, corrupted task files, role files, stale locks, leftover temp files, completed tasks not archived')
  .option('--fix', 'repair what is safe: set corrupted files aside with a report, clear dead locks, finish archives, remove stale temp files (never deletes task data)')
  .option('--json', 'print the findings as JSON')
  .option('--base-dir <dir>', BASE_DIR_HELP)
  .option('--database-url <url>', DATABASE_URL_HELP)
  .addHelpText('after', `${examples('doctor', 'doctor --fix')}\n\nExit code 0 when healthy, 1 while problems remain. Safe while servers run: it uses their locks.`)
  .action((options) => runCommand(async () => (await import('./commands/doctor.js')).doctor(options)));

program
  .command('migrate')
  .description('Copy a Python-era config/specialists.yaml and config/templates/ into .task_orchestrator/roles/, or, with --from-python, import the tasks of a Python MCP Task Orchestrator')
  .option('--base-dir <dir>', BASE_DIR_HELP)
  .option('--force', 'overwrite role files that already exist; with --to-postgres or --from-postgres: replace entries found with other content')
  .option('--from-python <dir>', 'import the task files (tasks/active, tasks/archive) and task_orchestrator.db of the Python orchestrator that ran in <dir>; running it again changes nothing')
  .option('--to-postgres <url>', 'copy every task, document, role file and plan key of the project\'s files into this PostgreSQL database (rerun-safe)')
  .option('--from-postgres <url>', 'copy every task, document, role file and plan key of this PostgreSQL database into the project\'s files (rerun-safe)')
  .option('--json', 'with --from-python, --to-postgres or --from-postgres: print the report as JSON')
  .addHelpText('after', examples('migrate', 'migrate --force --base-dir ~/code/my-project', 'migrate --from-python ~/code/my-project', 'migrate --from-python ~/.local/share/mcp-task-orchestrator --base-dir ~/code/my-project', 'migrate --to-postgres postgres://team@db.example/tasks', 'migrate --from-postgres postgres://team@db.example/tasks'))
  .action((options: { baseDir?: string; force?: boolean; fromPython?: string; toPostgres?: string; fromPostgres?: string; json?: boolean }) => {
    if (options.toPostgres !== undefined || options.fromPostgres !== undefined) return runCommand(async () => (await import('./commands/migrate-store.js')).migrateStore(options));
    const fromPython = options.fromPython;
    if (fromPython === undefined) return runCommand(async () => (await import('./commands/migrate.js')).migrate(options));
    return runCommand(async () => (await import('./commands/import-python.js')).importPython({ ...options, fromPython }));
  });

program
  .command('backup')
  .description('Write one archive of the whole task state (tasks, documents, role files, plan keys), from the files or the database, while servers keep working')
  .option('--to <file>', 'the archive to create (default: .task_orchestrator/backups/backup-<time>-<hex>.tar.gz, keeping the newest backup.keep)')
  .option('--json', 'print the path and counts as JSON')
  .option('--base-dir <dir>', BASE_DIR_HELP)
  .option('--database-url <url>', DATABASE_URL_HELP)
  .addHelpText('after', examples('backup', 'backup --to ~/safe/tasks.tar.gz'))
  .action((options) => runCommand(async () => (await import('./commands/backup.js')).backup(options)));

program
  .command('restore')
  .description('Replace the whole task state by an archive of "backup": every checksum verified first, the current state backed up first, then replaced at once')
  .argument('<file>', 'an archive written by task-orchestrator backup')
  .option('--dry-run', 'print which parents would be added, replaced and removed, and change nothing')
  .option('--json', 'print the plan as JSON')
  .option('--base-dir <dir>', BASE_DIR_HELP)
  .option('--database-url <url>', DATABASE_URL_HELP)
  .addHelpText('after', `${examples('restore backup.tar.gz --dry-run', 'restore .task_orchestrator/backups/backup-20261201T160000.000Z-1a2b3c4d.tar.gz')}\n\nA file store is restored only while no change is in progress (stop its servers first).`)
  .action((file: string, options) => runCommand(async () => (await import('./commands/restore.js')).restore(file, options)));

program
  .command('archive')
  .description('Move completed tasks from tasks/active/ to tasks/archive/ now; with --prune, apply the retention policy to the archive')
  .option('--older-than <duration>', 'only tasks completed at least this long ago: 30m, 12h, 7d, 2w, 1d12h')
  .option('--prune', 'apply the retention policy (retention.* in .task_orchestrator/config.yaml): delete the archived tasks it chooses, after a backup holding them')
  .option('--dry-run', 'with --prune: list what would be pruned, change nothing')
  .option('--json', 'print what was archived (or pruned) as JSON')
  .option('--base-dir <dir>', BASE_DIR_HELP)
  .option('--database-url <url>', DATABASE_URL_HELP)
  .addHelpText('after', examples('archive', 'archive --older-than 7d', 'archive --prune --dry-run'))
  .action((options) => runCommand(async () => (options.prune ? (await import('./commands/archive-prune.js')).archivePrune(options) : (await import('./commands/archive.js')).archive(options))));

program
  .command('roles')
  .description('List every specialist role, where it comes from, and the problems in the role files (in team mode: the team\'s, from the database)')
  .option('--json', 'print them as JSON')
  .option('--push', 'team mode: replace the team\'s role files in the database with this project\'s (refused while they have problems)')
  .option('--base-dir <dir>', BASE_DIR_HELP)
  .option('--database-url <url>', DATABASE_URL_HELP)
  .addHelpText('after', `${examples('roles', 'roles --json', 'roles --push --database-url postgres://orchestrator@db.example.com/tasks')}\n\nExit code 1 when a role file has problems.`)
  .action((options) => runCommand(async () => (await import('./commands/roles.js')).roles(options)));

program
  .command('setup')
  .description('Add this server to an MCP client\'s configuration, keeping every other server')
  .argument('<client>', 'claude-code, claude-desktop, cursor, vscode, windsurf or cline; or "encryption" to create an encryption key file')
  .option('--print', 'show the change without writing anything')
  .option('--scope <scope>', 'project (the project\'s own file; default for claude-code, cursor, vscode) or user (the user-wide file)')
  .option('--name <name>', 'the server\'s name in the configuration', 'task-orchestrator')
  .option('--npx', 'start the server with "npx -y mcp-task-orchestrator serve" instead of this installation')
  .option('--base-dir <dir>', 'the project (default: the current folder): where project-scoped files go; user-wide files name it in MCP_TASK_ORCHESTRATOR_BASE_DIR')
  .option('--http <url>', 'connect to a running "serve --http" at this URL instead of starting a server (claude-code, cursor, vscode, windsurf); the token is taken from MCP_TASK_ORCHESTRATOR_HTTP_TOKEN, never written into the file')
  .option('--key-file <file>', 'with "setup encryption": where to create the key (default: ~/.config/task-orchestrator/encryption.key)')
  .addOption(new Option('--platform <platform>', 'write the file for another platform').choices(['linux', 'darwin', 'win32']).hideHelp())
  .addHelpText(
    'after',
    `${examples('setup claude-code', 'setup claude-desktop --print', 'setup vscode --scope user', 'setup cursor --base-dir ~/code/my-project', 'setup windsurf --base-dir ~/code/my-project --scope user', `setup claude-code --http http://127.0.0.1:${DEFAULT_HTTP_PORT}/mcp`, 'setup encryption', 'setup encryption --key-file ~/secrets/tasks.key')}

Files: claude-code .mcp.json (user: ~/.claude.json), claude-desktop claude_desktop_config.json,
cursor .cursor/mcp.json (user: ~/.cursor/mcp.json), vscode .vscode/mcp.json (user: the profile's mcp.json),
windsurf ~/.codeium/windsurf/mcp_config.json, cline cline_mcp_settings.json. A file that is not valid
JSON is reported and never overwritten. "setup encryption" creates a key file (mode 600) for encryption
at rest and prints its id, never the key; it never replaces an existing key file.`,
  )
  .action((client: string, options) =>
    runCommand(async () => {
      if (client === 'encryption') return (await import('./commands/setup-encryption.js')).setupEncryption(options);
      return (await import('./commands/setup.js')).setup(client, options);
    }),
  );

const CONVERSION_NOTE = `
In place, one task per durable write (one transaction in team mode), through the store's own locking:
servers may keep running. Killed midway, run it again: it continues, and reports how many tasks it
converted and how many were already so. Exit code 1 when a task could not be converted (named on stderr).`;

for (const [name, description, file, example] of [
  ['encrypt', 'Encrypt every task and detailed-work document still in clear with the key of MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE', 'encrypt', 'MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE=~/.config/task-orchestrator/encryption.key task-orchestrator encrypt'],
  ['decrypt', 'Store every task and document in clear again, reading them with the configured key (stop servers from writing with it first)', 'decrypt', 'MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE=~/.config/task-orchestrator/encryption.key task-orchestrator decrypt'],
  ['rotate-key', 'Re-encrypt everything with the current key, reading older data with the keys in MCP_TASK_ORCHESTRATOR_ENCRYPTION_PREVIOUS_KEY_FILES', 'rotate-key', 'MCP_TASK_ORCHESTRATOR_ENCRYPTION_KEY_FILE=new.key MCP_TASK_ORCHESTRATOR_ENCRYPTION_PREVIOUS_KEY_FILES=old.key task-orchestrator rotate-key'],
] as const) {
  program
    .command(name)
    .description(description)
    .option('--json', 'print the counts as JSON')
    .option('--verbose', 'print each task as it is converted')
    .option('--base-dir <dir>', BASE_DIR_HELP)
    .option('--database-url <url>', DATABASE_URL_HELP)
    .addHelpText('after', `\nExample:\n  $ ${example}\n${CONVERSION_NOTE}`)
    .action((options) =>
      runCommand(async () => {
        if (file === 'encrypt') return (await import('./commands/encrypt.js')).encrypt(options);
        if (file === 'decrypt') return (await import('./commands/decrypt.js')).decrypt(options);
        return (await import('./commands/rotate-key.js')).rotateKey(options);
      }),
    );
}

program
  .command('demo')
  .description('Play a short orchestration against a temporary project through the real server, showing what an assistant sees; leaves nothing behind')
  .option('--full', 'print every reply in full (specialist prompts included)')
  .option('--step', 'wait for Enter before each step')
  .option('--keep', 'keep the temporary project and print where it is')
  .addHelpText('after', examples('demo', 'demo --step', 'demo --full --keep'))
  .action((options) => runCommand(async () => (await import('./commands/demo.js')).demo(options)));

exitQuietlyOnClosedPipe();
await program.parseAsync(process.argv);
