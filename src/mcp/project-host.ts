import path from 'node:path';
import type { Logger } from '../app/ports.js';
import type { Orchestrator } from '../app/orchestrator.js';
import { OrchestratorError } from '../domain/errors.js';
import { projectDirProblem, type Settings } from '../config.js';
import { openProject, type OpenProject } from '../compose/open-project.js';

/** What the tools need of the server's project: its use cases, and moving to another folder. */
export interface ToolHost {
  orchestrator(): Promise<Orchestrator>;
  moveTo(workingDirectory: string): Promise<void>;
}

/**
 * Holds the project the server works on. It opens lazily (the first tool call pays for loading the
 * index, not the handshake) and can be moved by initialize_session's working_directory, unless
 * MCP_TASK_ORCHESTRATOR_BASE_DIR fixes it.
 */
export class ProjectHost implements ToolHost {
  private opening: Promise<OpenProject> | null = null;

  /**
   * `baseDir` null: the server started in a folder it cannot use (`startedIn` says which and why) and
   * waits for working_directory. A folder fixed by the environment is kept even when unusable: each
   * call then says why, and works as soon as the folder does.
   */
  constructor(
    private baseDir: string | null,
    private readonly settings: Settings,
    private readonly logger: Logger & { attach?(logsDir: string): void },
    private readonly startedIn: { dir: string; problem: string } | null = null,
  ) {}

  get fixedByEnvironment(): boolean {
    return this.settings.baseDirFromEnv !== null;
  }

  async orchestrator(): Promise<Orchestrator> {
    return (await this.project()).orchestrator;
  }

  project(): Promise<OpenProject> {
    if (!this.opening) {
      const refusal = this.refusal();
      if (refusal) return Promise.reject(refusal);
      const opening = this.open(this.baseDir!);
      opening.catch(() => {
        if (this.opening === opening) this.opening = null; // let the next call try again (a folder created meanwhile, say)
      });
      this.opening = opening;
    }
    return this.opening;
  }

  /** Why no project can be opened now (checked on each call until one is: the folder may be fixed meanwhile), or null. */
  private refusal(): OrchestratorError | null {
    const ask = 'Call orchestrator_initialize_session with working_directory set to the project\'s absolute path, or set MCP_TASK_ORCHESTRATOR_BASE_DIR in the client\'s server configuration.';
    if (!this.baseDir) {
      const where = this.startedIn ? `the server was started in ${show(this.startedIn.dir)}, which cannot hold the tasks: ${this.startedIn.problem}` : 'the server was started in a folder it cannot use';
      return new OrchestratorError('NO_PROJECT_FOLDER', `No project folder is set: ${where}. ${ask}`, this.startedIn ? { started_in: this.startedIn.dir, reason: this.startedIn.problem } : {});
    }
    const problem = projectDirProblem(this.baseDir, { named: this.fixedByEnvironment });
    if (!problem) return null;
    if (this.fixedByEnvironment) {
      const origin = this.settings.baseDirOrigin;
      return new OrchestratorError('NO_PROJECT_FOLDER', `${origin} is ${show(this.baseDir)}, which cannot hold the tasks: ${problem}. Nothing was created. Set ${origin} to the project's folder in the client's server configuration and restart the server.`, { setting: origin, base_dir: this.baseDir, reason: problem });
    }
    return new OrchestratorError('NO_PROJECT_FOLDER', `The project folder ${show(this.baseDir)} cannot hold the tasks: ${problem}. Nothing was created. ${ask}`, { base_dir: this.baseDir, reason: problem });
  }

  private async open(dir: string): Promise<OpenProject> {
    let project: OpenProject;
    try {
      project = await openProject(dir, this.settings, this.logger, { verifyInBackground: true, schedule: true });
    } catch (error) {
      if (error instanceof OrchestratorError) throw error;
      throw new OrchestratorError('STORAGE_ERROR', `Cannot open the task store in ${dir}: ${(error as Error).message}. Check that the folder exists and is writable, or point MCP_TASK_ORCHESTRATOR_BASE_DIR at the project.`, { base_dir: dir });
    }
    if (!project.store.readOnly) this.logger.attach?.(project.layout.logsDir);
    this.logger.info(`Serving tasks from ${project.where}${project.store.readOnly ? ' (read-only)' : ''}`, { recovered: project.recovery });
    return project;
  }

  /** Moves to another project folder; a no-op when it is the same or the environment fixes the folder. */
  async moveTo(workingDirectory: string): Promise<void> {
    if (this.fixedByEnvironment) return;
    if (!path.isAbsolute(workingDirectory)) {
      throw new OrchestratorError('INVALID_INPUT', `working_directory must be an absolute path; got ${show(workingDirectory)}. Pass the project's full path.`);
    }
    const target = path.resolve(workingDirectory);
    if (target === this.baseDir && this.opening) return;
    const problem = projectDirProblem(target);
    if (problem) {
      throw new OrchestratorError('INVALID_INPUT', `working_directory ${show(target)} cannot hold the tasks: ${problem}. Pass the absolute path of the project folder.`, { working_directory: target, reason: problem });
    }
    const previous = this.opening;
    this.baseDir = target;
    this.opening = null;
    if (previous) await (await previous.catch(() => null))?.close();
  }

  /**
   * This project as one agent sees it: calls that name no agent_id act for `agentId` (an HTTP session),
   * not for the process. The project, its store and its locks stay shared.
   */
  forAgent(agentId: string): ToolHost {
    let cached: { shared: Orchestrator; own: Orchestrator } | null = null;
    return {
      orchestrator: async () => {
        const shared = await this.orchestrator();
        if (cached?.shared !== shared) cached = { shared, own: shared.actingAs(agentId) }; // the project may have moved
        return cached.own;
      },
      moveTo: (workingDirectory) => this.moveTo(workingDirectory),
    };
  }

  async close(): Promise<void> {
    const current = this.opening;
    this.opening = null;
    if (current) await (await current.catch(() => null))?.close();
  }
}

/** A path as people read it in a message: quoted, control characters such as NUL escaped, long ones cut. */
function show(dir: string): string {
  return JSON.stringify(dir.length > 200 ? `${dir.slice(0, 200)}…` : dir);
}
