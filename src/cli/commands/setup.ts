import os from 'node:os';
import path from 'node:path';
import { CLIENTS, clientTarget, isClient, productOf, projectBinding, resolveScope, seesShellPath, type ClientEnvironment, type ClientName, type ClientTarget, type Scope } from '../../clients/client-config.js';
import { applyMerge, isRefused, planMerge, type RefusedPlan, type WritablePlan } from '../../clients/json-config.js';
import { escapeJsonControlChars } from '../../domain/control-chars.js';
import { printable } from '../format.js';
import { chooseLaunch, type LaunchChoice } from '../launch.js';
import { EXIT, print, projectDir, settingsFor, UsageError, warn, type BaseOptions } from '../run.js';

export interface SetupOptions extends BaseOptions {
  print?: boolean;
  scope?: string;
  name: string;
  npx?: boolean;
  platform?: string;
  /** The URL of a running `serve --http`: write an entry that connects to it (setup-http.ts). */
  http?: string;
}

const PLATFORMS = ['linux', 'darwin', 'win32'];

/** `task-orchestrator setup <client>`: merges this server into an MCP client's configuration file. */
export async function setup(client: string, options: SetupOptions): Promise<number> {
  if (!isClient(client)) throw new UsageError(`unknown client "${client}"; use one of ${CLIENTS.join(', ')}.`);
  if (options.http !== undefined) return (await import('../setup-http.js')).setupHttp(client, { ...options, http: options.http });
  const scope = resolveScope(client, options.scope);
  const env = environment(options);
  const project = needsProjectFolder(client, scope, options) ? projectFolder(options) : null;
  const launch = chooseLaunch({ npx: options.npx === true, product: productOf(client), clientSeesShellPath: seesShellPath(client), platform: env.platform, pathVariable: process.env.PATH });
  const fixedBaseDir = scope === 'user' ? project : null; // a project's own file never names the folder it is in
  const target = clientTarget(client, { scope, name: options.name, launch: launch.launch, fixedBaseDir }, { ...env, projectDir: project ?? process.cwd() });
  const plan = await planMerge(target);
  if (isRefused(plan)) return refuse(printable(plan), target);
  if (options.print) return preview(printable(plan), target, launch);
  await applyMerge(plan);
  print(doneMessage(printable(plan), target));
  printNotes(target, launch);
  return EXIT.OK;
}

/**
 * A project file lives in the project, and a `fixed` entry names it. Claude Code's user-wide file
 * needs none (Claude Code starts the server in the folder it runs in), unless --base-dir asks to fix one.
 */
function needsProjectFolder(client: ClientName, scope: Scope, options: SetupOptions): boolean {
  return scope === 'project' || projectBinding(client, scope) === 'fixed' || options.baseDir !== undefined;
}

/**
 * --base-dir (or MCP_TASK_ORCHESTRATOR_BASE_DIR), else the folder setup runs in. The home folder and
 * "/" are refused: a server fixed there would mix every project's tasks, and a project file there
 * would apply to every folder below.
 */
export function projectFolder(options: SetupOptions): string {
  return projectDir(settingsFor(options));
}

/** Home folder and platform come from HOME (or the OS) and --platform, so tests and other machines can aim elsewhere. */
export function environment(options: SetupOptions): Omit<ClientEnvironment, 'projectDir'> {
  const platform = options.platform ?? process.platform;
  if (!PLATFORMS.includes(platform)) throw new UsageError(`--platform must be one of ${PLATFORMS.join(', ')}; got "${platform}".`);
  return { home: process.env.HOME || os.homedir(), platform: platform as NodeJS.Platform, appData: process.env.APPDATA || null };
}

function preview(plan: WritablePlan, target: ClientTarget, launch: LaunchChoice): number {
  const verb = { create: 'create', add: 'add to', update: 'update in', unchanged: 'leave unchanged' }[plan.status];
  print(`Would ${verb} ${plan.file} (${target.product}, ${target.scope} scope):`);
  print(snippet(target));
  if (plan.otherServers.length) print(`Other servers kept as they are: ${plan.otherServers.join(', ')}`);
  printNotes(target, launch);
  return EXIT.OK;
}

export function refuse(plan: RefusedPlan, target: ClientTarget): number {
  warn(`error: ${plan.file} was left as it is: ${plan.reason}.`);
  warn(`${plan.status === 'has_comments' ? 'Add' : 'Fix the file, then run this again, or add'} this entry to it by hand:`);
  warn(snippet(target));
  return EXIT.PROBLEMS;
}

export function snippet(target: ClientTarget): string {
  return escapeJsonControlChars(JSON.stringify({ ...(target.inputs ? { inputs: target.inputs } : {}), [target.key]: { [target.name]: target.entry } }, null, 2));
}

export function doneMessage(plan: WritablePlan, target: ClientTarget): string {
  const kept = plan.otherServers.length ? ` (${plan.otherServers.length} other server(s) kept as they are)` : '';
  const what = { create: `Created ${plan.file} with`, add: `Added`, update: `Updated`, unchanged: 'Already configured:' }[plan.status];
  const where = plan.status === 'create' ? '' : ` ${plan.status === 'unchanged' ? 'in' : plan.status === 'add' ? 'to' : 'in'} ${plan.file}`;
  const restart = plan.status === 'unchanged' ? ' Nothing changed.' : ` Restart ${target.product} to load it.`;
  return `${what} the "${printable(target.name)}" server${where}${kept}.${restart}`;
}

/** Which command the entry runs and where the tasks will be kept: what the person needs to know to trust it or fix it. */
function printNotes(target: ClientTarget, launch: LaunchChoice): void {
  print(launch.note);
  print(projectNote(target));
}

function projectNote(target: ClientTarget): string {
  const env = (target.entry.env ?? {}) as Record<string, string>;
  switch (target.binding) {
    case 'fixed':
      return `Tasks are kept in ${path.join(env.MCP_TASK_ORCHESTRATOR_BASE_DIR!, '.task_orchestrator')} (MCP_TASK_ORCHESTRATOR_BASE_DIR), whatever folder ${target.product} starts the server in; to work on another project, run setup again there.`;
    case 'workspace-folder':
      return `Tasks are kept in .task_orchestrator/ of the folder ${target.product} has open (\${workspaceFolder}).`;
    case 'start-folder':
      return `${target.product} starts the server in the folder you run it in: tasks are kept in .task_orchestrator/ there.`;
    case 'remote':
      return `Tasks are kept in .task_orchestrator/ of the folder the server at that URL was started in.`;
  }
}
