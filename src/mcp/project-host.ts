import path from 'node:path';
import type { Logger } from '../app/ports.js';
import type { Orchestrator } from '../app/orchestrator.js';
import { OrchestratorError } from '../domain/errors.js';
import { projectDirProblem, type Settings } from '../config.js';
import { openProject, type OpenProject } from '../storage/open-project.js';

/**
 * Holds the project the server works on. It opens lazily (the first tool call pays for loading the
 * index, not the handshake) and can be moved by initialize_session's working_directory, unless
 * MCP_TASK_ORCHESTRATOR_BASE_DIR fixes it.
 */
export class ProjectHost {
  private opening: Promise<OpenProject> | null = null;

  constructor(
    private baseDir: string | null,
    private readonly settings: Settings,
    private readonly logger: Logger & { attach?(logsDir: string): void },
  ) {}

  get fixedByEnvironment(): boolean {
    return this.settings.baseDirFromEnv !== null;
  }

  async orchestrator(): Promise<Orchestrator> {
    return (await this.project()).orchestrator;
  }

  project(): Promise<OpenProject> {
    if (!this.baseDir) {
      return Promise.reject(
        new OrchestratorError('NO_PROJECT_FOLDER', 'No project folder is set: the server was started in a folder it cannot use (such as "/"). Call orchestrator_initialize_session with working_directory set to the project\'s absolute path, or set MCP_TASK_ORCHESTRATOR_BASE_DIR in the client\'s server configuration.'),
      );
    }
    if (!this.opening) {
      const opening = this.open(this.baseDir);
      opening.catch(() => {
        if (this.opening === opening) this.opening = null; // let the next call try again (a folder created meanwhile, say)
      });
      this.opening = opening;
    }
    return this.opening;
  }

  private async open(dir: string): Promise<OpenProject> {
    let project: OpenProject;
    try {
      project = await openProject(dir, this.settings, this.logger, { verifyInBackground: true });
    } catch (error) {
      if (error instanceof OrchestratorError) throw error;
      throw new OrchestratorError('STORAGE_ERROR', `Cannot open the task store in ${dir}: ${(error as Error).message}. Check that the folder exists and is writable, or point MCP_TASK_ORCHESTRATOR_BASE_DIR at the project.`, { base_dir: dir });
    }
    this.logger.attach?.(project.layout.logsDir);
    this.logger.info(`Serving tasks from ${project.layout.root}`, { recovered: project.store.lastRecovery });
    return project;
  }

  /** Moves to another project folder; a no-op when it is the same or the environment fixes the folder. */
  async moveTo(workingDirectory: string): Promise<void> {
    if (this.fixedByEnvironment) return;
    if (!path.isAbsolute(workingDirectory)) {
      throw new OrchestratorError('INVALID_INPUT', `working_directory must be an absolute path; got "${workingDirectory.slice(0, 200)}". Pass the project's full path.`);
    }
    const target = path.resolve(workingDirectory);
    if (target === this.baseDir) return;
    const problem = projectDirProblem(target);
    if (problem) {
      throw new OrchestratorError('INVALID_INPUT', `working_directory "${target.slice(0, 200)}" cannot hold the tasks: ${problem}. Pass the absolute path of the project folder.`, { working_directory: target });
    }
    const previous = this.opening;
    this.baseDir = target;
    this.opening = null;
    if (previous) await (await previous.catch(() => null))?.close();
  }

  async close(): Promise<void> {
    const current = this.opening;
    this.opening = null;
    if (current) await (await current.catch(() => null))?.close();
  }
}
