import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Client } from '@modelcontextprotocol/client';
import type { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { CLIENTS } from '../../clients/client-config.js';
import { isPidAlive } from '../../store/file/lock.js';
import { VERSION } from '../../version.js';
import { DEMO_STEPS, type PlannedIds } from '../demo-script.js';
import { showCall, stepHeading, type ReplyView } from '../demo-view.js';
import { indent, paint, styleFor, type Style } from '../format.js';
import { serveLaunch } from '../launch.js';
import { EXIT, print, warn } from '../run.js';

export interface DemoOptions {
  keep?: boolean;
  full?: boolean;
  step?: boolean;
}

/** Replies longer than this are cut unless --full: a step should fit on a screen or two. */
const MAX_REPLY_LINES = 40;
const EXIT_ON_SIGNAL = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * `task-orchestrator demo`: plays a short orchestration against a temporary project through the real
 * server (`serve`, spawned as a client would) and the official MCP client, printing what an assistant
 * sees at each step. The server and the folder are gone afterwards, also after a failure or Ctrl-C.
 */
export async function demo(options: DemoOptions): Promise<number> {
  const style = styleFor(process.stdout);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'task-orchestrator-demo-'));
  const server = new DemoServer(dir);
  const teardown = new Teardown(server, dir, options.keep === true);
  const pause = options.step ? new EnterPrompt() : null;
  try {
    await server.start();
    printIntro(style, dir, server.pid);
    await play(server, style, { full: options.full === true, maxLines: MAX_REPLY_LINES, seen: new Set() }, pause);
    await teardown.run();
    printOutro(style, dir, options.keep === true);
    return EXIT.OK;
  } catch (error) {
    // After Ctrl-C, the call in flight fails because the connection was closed: not an error to report.
    if (teardown.interrupted) await teardown.exitOnSignal();
    const said = server.stderrTail();
    if (said) warn(`The server's last log lines:\n${indent(said)}`);
    throw error;
  } finally {
    pause?.close();
    await teardown.run();
    teardown.release();
  }
}

type Signal = keyof typeof EXIT_ON_SIGNAL;

/**
 * Stops the server and removes the project, once: when the demo ends or fails, on Ctrl-C or SIGTERM,
 * and on an early process.exit (a closed stdout pipe), which skips every finally block.
 */
class Teardown {
  interrupted: Signal | null = null;
  private done: Promise<void> | null = null;

  constructor(
    private readonly server: DemoServer,
    private readonly dir: string,
    private readonly keep: boolean,
  ) {
    process.on('exit', this.lastResort);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  run(): Promise<void> {
    return (this.done ??= this.stopAndRemove());
  }

  async exitOnSignal(): Promise<never> {
    await this.run().catch(() => undefined);
    process.exit(EXIT_ON_SIGNAL[this.interrupted ?? 'SIGINT']);
  }

  release(): void {
    process.off('exit', this.lastResort);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }

  private async stopAndRemove(): Promise<void> {
    await this.server.stop();
    if (!this.keep) await rm(this.dir, { recursive: true, force: true });
  }

  private readonly onSignal = (signal: Signal) => {
    this.interrupted = signal;
    void this.exitOnSignal();
  };

  /** Synchronous, as 'exit' listeners must be. */
  private readonly lastResort = () => {
    this.server.kill();
    if (!this.keep) rmSync(this.dir, { recursive: true, force: true });
  };
}

async function play(server: DemoServer, style: Style, view: ReplyView, pause: EnterPrompt | null): Promise<void> {
  let ids: PlannedIds = { parent: '', byHandle: {} };
  for (const [index, step] of DEMO_STEPS.entries()) {
    const number = index + 1;
    await pause?.wait(`Press Enter for step ${number}/${DEMO_STEPS.length}`);
    const args = step.args(ids);
    const reply = await server.call(step.tool, args);
    if (reply.isError !== (step.refused === true)) throw new Error(`step ${number} (${step.tool}) was expected to ${step.refused ? 'be refused' : 'succeed'}, but the server replied: ${reply.text}`);
    if (step.tool === 'orchestrator_plan_task') ids = idsOf(reply.data);
    print(stepHeading(style, number, DEMO_STEPS.length, step.title));
    print(showCall(style, step.tool, args, reply, view));
    if (step.then) print(paint(style, 'dim', step.then));
    print();
  }
}

function idsOf(plan: any): PlannedIds {
  const byHandle: Record<string, string> = {};
  for (const subtask of plan.subtasks as { handle: string; task_id: string }[]) byHandle[subtask.handle] = subtask.task_id;
  return { parent: plan.parent_task_id as string, byHandle };
}

function printIntro(style: Style, dir: string, pid: number | null): void {
  const launch = serveLaunch();
  print(paint(style, 'bold', 'task-orchestrator demo: a scripted orchestration, showing what an assistant sees at each step.'));
  print(`Project: ${dir} (temporary)`);
  print(`Server:  ${[launch.command, ...launch.args].join(' ')} (pid ${pid}), spawned and connected over stdio with the official MCP client`);
  print();
}

function printOutro(style: Style, dir: string, kept: boolean): void {
  print(paint(style, 'bold', 'Done.'));
  print('The client closed the connection and the server exited.');
  if (kept) {
    print(`The project is kept in ${dir}; look at it with`);
    print(`  task-orchestrator status --all --base-dir ${dir}`);
    print(`and remove it when you are done: rm -r ${dir}`);
  } else {
    print(`The temporary project ${dir} was removed (--keep keeps it).`);
  }
  print();
  print(`To use it for real, connect your assistant: task-orchestrator setup <client> (${CLIENTS.join(', ')}),`);
  print('then ask it to "use the task orchestrator to add CSV export to the reports page".');
}

interface Reply {
  isError: boolean;
  text: string;
  data: any;
}

/** `task-orchestrator serve` for a temporary project, spawned and spoken to as an MCP client does. */
class DemoServer {
  private transport: StdioClientTransport | null = null;
  private client: Client | null = null;
  private stderr = '';

  constructor(private readonly dir: string) {}

  get pid(): number | null {
    return this.transport?.pid ?? null;
  }

  async start(): Promise<void> {
    // Loaded here, so that the other commands do not pay for the client.
    const [{ Client }, { StdioClientTransport }] = await Promise.all([import('@modelcontextprotocol/client'), import('@modelcontextprotocol/client/stdio')]);
    const launch = serveLaunch();
    this.transport = new StdioClientTransport({ ...launch, cwd: this.dir, env: serverEnvironment(this.dir), stderr: 'pipe' });
    this.transport.stderr?.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-10_000)));
    this.client = new Client({ name: 'task-orchestrator-demo', version: VERSION });
    await this.client.connect(this.transport);
  }

  async call(name: string, args: Record<string, unknown>): Promise<Reply> {
    if (!this.client) throw new Error('the demo server is not started');
    const reply = (await this.client.callTool({ name, arguments: args })) as { isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: unknown };
    return { isError: reply.isError === true, text: reply.content.map((c) => c.text ?? '').join('\n'), data: reply.structuredContent };
  }

  /** Closes stdin, as a client does, and waits for the server to exit (it is killed if it does not within seconds). */
  async stop(): Promise<void> {
    await this.transport?.close();
  }

  /** For a process that is exiting now and cannot wait. */
  kill(): void {
    const pid = this.pid;
    if (pid !== null && isPidAlive(pid)) process.kill(pid, 'SIGKILL');
  }

  stderrTail(lines = 10): string {
    return this.stderr.trimEnd().split('\n').slice(-lines).join('\n');
  }
}

/**
 * The user's environment without the orchestrator's own settings, and the temporary folder as the
 * project: a configured MCP_TASK_ORCHESTRATOR_CONFIG_DIR would otherwise send role files elsewhere.
 */
function serverEnvironment(dir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('MCP_TASK_ORCHESTRATOR_')) env[key] = value;
  return { ...env, MCP_TASK_ORCHESTRATOR_BASE_DIR: dir };
}

/** --step: waits for Enter before each step. Not a raw-mode terminal, so Ctrl-C still interrupts. */
class EnterPrompt {
  private readonly lines: Interface = createInterface({ input: process.stdin, terminal: false });
  private ended = false;

  constructor() {
    this.lines.once('close', () => (this.ended = true));
  }

  async wait(prompt: string): Promise<void> {
    if (this.ended) return;
    process.stdout.write(`${prompt} `);
    await new Promise<void>((resolve) => {
      const done = () => {
        this.lines.off('line', done);
        this.lines.off('close', done);
        resolve();
      };
      this.lines.once('line', done);
      this.lines.once('close', done);
    });
  }

  close(): void {
    this.lines.close();
  }
}
