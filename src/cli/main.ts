#!/usr/bin/env node
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { migrate } from './commands/migrate.js';
import { serve } from './commands/serve.js';

/** The command line: wiring only. Each command lives in its own file under commands/. */
const program = new Command()
  .name('task-orchestrator')
  .description('MCP server that orchestrates complex work across specialist roles, stored durably in .task_orchestrator/')
  .version(VERSION)
  .showHelpAfterError();

program
  .command('serve')
  .description('Run the MCP server on stdio (what MCP clients start)')
  .option('--base-dir <dir>', 'project folder holding .task_orchestrator/ (default: MCP_TASK_ORCHESTRATOR_BASE_DIR, else the current folder)')
  .addHelpText('after', '\nExample:\n  task-orchestrator serve --base-dir ~/code/my-project')
  .action(async (options: { baseDir?: string }) => serve(options));

program
  .command('migrate')
  .description('Copy a Python-era config/specialists.yaml and config/templates/ into .task_orchestrator/roles/')
  .option('--base-dir <dir>', 'project folder (default: MCP_TASK_ORCHESTRATOR_BASE_DIR, else the current folder)')
  .option('--force', 'overwrite role files that already exist')
  .addHelpText('after', '\nExamples:\n  task-orchestrator migrate\n  task-orchestrator migrate --force --base-dir ~/code/my-project')
  .action(async (options: { baseDir?: string; force?: boolean }) => {
    process.exitCode = await migrate(options);
  });

await program.parseAsync(process.argv);
