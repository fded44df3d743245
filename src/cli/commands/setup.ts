import os from 'node:os';
import path from 'node:path';
import { CLIENTS, clientTarget, isClient, scopesOf, type ClientEnvironment, type ClientTarget, type Launch } from '../../storage/client-config.js';
import { applyMerge, isRefused, planMerge, type RefusedPlan, type WritablePlan } from '../../storage/json-config.js';
import { EXIT, print, projectDir, serveLaunch, settingsFor, UsageError, warn, type BaseOptions } from '../run.js';

export interface SetupOptions extends BaseOptions {
  print?: boolean;
  scope?: string;
  name: string;
  npx?: boolean;
  platform?: string;
}

const PLATFORMS = ['linux', 'darwin', 'win32'];
const PACKAGE_NAME = 'task-orchestrator';

/** `task-orchestrator setup <client>`: merges this server into an MCP client's configuration file. */
export async function setup(client: string, options: SetupOptions): Promise<number> {
  if (!isClient(client)) throw new UsageError(`unknown client "${client}"; use one of ${CLIENTS.join(', ')}.`);
  const scope = options.scope ?? scopesOf(client)[0];
  const target = clientTarget(client, { scope, name: options.name, launch: launchCommand(options), baseDir: fixedBaseDir(options, scope) }, environment(options, scope));
  const plan = await planMerge(target);
  if (isRefused(plan)) return refuse(plan, target);
  if (options.print) return preview(plan, target);
  await applyMerge(plan);
  print(doneMessage(plan, target));
  return EXIT.OK;
}

/** This installation, run by the Node that runs this command: works without a global install or PATH. */
function launchCommand(options: SetupOptions): Launch {
  if (options.npx) return { command: 'npx', args: ['-y', PACKAGE_NAME, 'serve'] };
  return serveLaunch();
}

/**
 * In a user-wide file, an explicit --base-dir fixes the project the server works on. A project file
 * lives in the project (--base-dir says which), and its client starts the server there.
 */
function fixedBaseDir(options: SetupOptions, scope: string | undefined): string | null {
  return options.baseDir && scope === 'user' ? path.resolve(options.baseDir) : null;
}

/** Home folder and platform come from HOME (or the OS) and --platform, so tests and other machines can aim elsewhere. */
function environment(options: SetupOptions, scope: string | undefined): ClientEnvironment {
  const platform = options.platform ?? process.platform;
  if (!PLATFORMS.includes(platform)) throw new UsageError(`--platform must be one of ${PLATFORMS.join(', ')}; got "${platform}".`);
  const project = scope === 'project' ? projectDir(settingsFor(options)) : process.cwd();
  return { home: process.env.HOME || os.homedir(), platform: platform as NodeJS.Platform, appData: process.env.APPDATA || null, projectDir: project };
}

function preview(plan: WritablePlan, target: ClientTarget): number {
  const verb = { create: 'create', add: 'add to', update: 'update in', unchanged: 'leave unchanged' }[plan.status];
  print(`Would ${verb} ${plan.file} (${target.client}, ${target.scope} scope):`);
  print(snippet(target));
  if (plan.otherServers.length) print(`Other servers kept as they are: ${plan.otherServers.join(', ')}`);
  return EXIT.OK;
}

function refuse(plan: RefusedPlan, target: ClientTarget): number {
  warn(`error: ${plan.file} was left as it is: ${plan.reason}.`);
  warn(`${plan.status === 'has_comments' ? 'Add' : 'Fix the file, then run this again, or add'} this entry to it by hand:`);
  warn(snippet(target));
  return EXIT.PROBLEMS;
}

function snippet(target: ClientTarget): string {
  return JSON.stringify({ [target.key]: { [target.name]: target.entry } }, null, 2);
}

function doneMessage(plan: WritablePlan, target: ClientTarget): string {
  const kept = plan.otherServers.length ? ` (${plan.otherServers.length} other server(s) kept as they are)` : '';
  const what = { create: `Created ${plan.file} with`, add: `Added`, update: `Updated`, unchanged: 'Already configured:' }[plan.status];
  const where = plan.status === 'create' ? '' : ` ${plan.status === 'unchanged' ? 'in' : plan.status === 'add' ? 'to' : 'in'} ${plan.file}`;
  const restart = plan.status === 'unchanged' ? ' Nothing changed.' : ` Restart ${target.client} to load it.`;
  return `${what} the "${target.name}" server${where}${kept}.${restart}`;
}
