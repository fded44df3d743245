import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSTALL_DIR } from '../config.js';
import type { Launch } from '../clients/client-config.js';
import { PACKAGE_NAME } from '../version.js';

/** The command name npm puts on PATH for this package (the other bin, mcp-task-orchestrator, is for npx). */
export const COMMAND = 'task-orchestrator';

/** This installation's entry point, dist/cli/main.js. */
const SCRIPT = fileURLToPath(new URL('./main.js', import.meta.url));

/** This installation's server, run by the Node that runs this command: works without a global install or PATH. */
export function serveLaunch(): Launch {
  return { command: process.execPath, args: [SCRIPT, 'serve'] };
}

export interface LaunchChoice {
  launch: Launch;
  /** For the person: which command the entry runs, why, and what would break it. */
  note: string;
}

export interface LaunchContext {
  npx: boolean;
  /** The client's product name, for the note. */
  product: string;
  /** The client starts servers with the PATH of the user's shell (Claude Desktop does not). */
  clientSeesShellPath: boolean;
  /** The platform the entry is written for. */
  platform: NodeJS.Platform;
  /** The PATH to look the command up in: the one `setup` runs with. */
  pathVariable: string | undefined;
}

/**
 * How the client should start this server. The bare command name survives upgrades and a change of
 * Node version, and keeps a project's committed file valid on every machine; it is written only when
 * PATH finds it and it is this very installation (another task-orchestrator would be somebody else's
 * code), and only for clients that see the shell's PATH. Otherwise the absolute Node and script paths,
 * which work from any PATH but break when either moves.
 */
export function chooseLaunch(context: LaunchContext): LaunchChoice {
  if (context.npx) {
    return { launch: { command: 'npx', args: ['-y', PACKAGE_NAME, 'serve'] }, note: `It starts "npx -y ${PACKAGE_NAME} serve": npx downloads ${PACKAGE_NAME} from the npm registry the first time.` };
  }
  const absolute = (why: string): LaunchChoice => ({
    launch: serveLaunch(),
    note: `${why}, so it starts ${process.execPath} ${SCRIPT} serve: if you move or delete ${INSTALL_DIR} or that Node, run setup again.`,
  });
  if (context.platform === 'win32') return absolute(`On Windows npm's ${COMMAND}.cmd needs a shell, which not every client uses`);
  if (!context.clientSeesShellPath) return absolute(`${context.product} does not start servers with your shell's PATH`);
  const found = findOnPath(COMMAND, context.pathVariable);
  if (!found) return absolute(`${COMMAND} is not on your PATH`);
  if (!sameFile(found, SCRIPT)) return absolute(`The ${COMMAND} on your PATH (${found}) is another installation`);
  return { launch: { command: COMMAND, args: ['serve'] }, note: `It starts "${COMMAND} serve", found on your PATH at ${found} (this installation), so upgrading it needs no new setup.` };
}

/** The first executable file called `name` in the absolute folders of PATH, as a shell would find it. */
export function findOnPath(name: string, pathVariable: string | undefined): string | null {
  for (const dir of (pathVariable ?? '').split(path.delimiter)) {
    if (!path.isAbsolute(dir)) continue; // "" and relative entries depend on the folder the client starts in
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** npm's bins are symbolic links to dist/cli/main.js: the same installation resolves to the same file. */
function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}
