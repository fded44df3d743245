/**
 * What the contract tests share: opening a store kind through the composition root, a clock the tests
 * move, fixtures that remove every store they made, and checks that hold for any store.
 */
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { Orchestrator } from '../../src/app/orchestrator.js';
import type { Clock, TaskStore } from '../../src/app/ports.js';
import { openProject } from '../../src/compose/open-project.js';
import { readSettings, type Settings } from '../../src/config.js';
import { OrchestratorError, type ErrorCode } from '../../src/domain/errors.js';
import type { ParentTask, SubtaskStatus } from '../../src/domain/model.js';
import { silentLogger } from '../../src/logging/logger.js';
import { NOW, parentWith, subtask } from '../unit/builders.js';
import { storeKinds, type PreparedStore, type StoreKind } from './store-kinds.js';

/** Real time plus an offset the test moves forward: leases expire without waiting. */
export class TestClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface OpenedStore {
  /** The use cases, on this store, with this opening's clock and session agent. */
  orchestrator: Orchestrator;
  store: TaskStore;
  clock: TestClock;
  /** The agent of calls that name none (each opening gets its own, as each server process has). */
  sessionAgentId: string;
}

export interface OpenOptions {
  /** Settings over the kind's: leaseMs, say. */
  settings?: Partial<Settings>;
  /** The session agent; default "session-<n>", a new one per opening. */
  sessionAgentId?: string;
  /** A clock shared with another opening (default: one of its own). */
  clock?: TestClock;
}

/** A store made for some tests: open it as often as wanted; everything opened is closed by the fixture. */
export interface StoreFixture {
  readonly prepared: PreparedStore;
  open(options?: OpenOptions): Promise<OpenedStore>;
  /** The first opening (made on first use): most tests need just one. */
  main(): Promise<OpenedStore>;
}

let openings = 0;

/**
 * Runs `body` once per store kind inside describe("[<kind>] <title>"). The kinds are known before any
 * test is declared (top-level await), so every kind's tests appear by name in the report.
 */
export async function forEachStoreKind(title: string, body: (kind: StoreKind) => void): Promise<void> {
  for (const kind of await storeKinds()) describe(`[${kind.name}] ${title}`, () => body(kind));
}

function fixtureOf(prepared: PreparedStore): StoreFixture & { close(): Promise<void> } {
  const closers: (() => Promise<void>)[] = [];
  let first: Promise<OpenedStore> | undefined;
  const open = async (options: OpenOptions = {}): Promise<OpenedStore> => {
    const settings = { ...readSettings({}), ...prepared.overrides, ...options.settings };
    const project = await openProject(prepared.baseDir, settings, silentLogger);
    closers.push(() => project.close());
    const clock = options.clock ?? new TestClock();
    const sessionAgentId = options.sessionAgentId ?? `session-${++openings}`;
    // The composition root's context with a clock the test controls and a session of its own: two
    // openings in one process otherwise share the process's session agent.
    const orchestrator = new Orchestrator({ ...project.orchestrator.ctx, clock, sessionAgentId });
    return { orchestrator, store: project.store, clock, sessionAgentId };
  };
  return {
    prepared,
    open,
    main: () => (first ??= open()),
    async close() {
      for (const close of closers.splice(0)) await close();
    },
  };
}

/** A store shared by the tests of the enclosing describe: made before them, removed after them. */
export function sharedStore(kind: StoreKind): StoreFixture {
  let fixture: ReturnType<typeof fixtureOf> | undefined;
  before(async () => {
    fixture = fixtureOf(await kind.prepare());
  });
  after(async () => {
    try {
      await fixture?.close();
    } finally {
      await fixture?.prepared.cleanup();
    }
  });
  const current = () => fixture ?? assert.fail('the shared store is made before the tests run');
  return {
    get prepared() {
      return current().prepared;
    },
    open: (options) => current().open(options),
    main: () => current().main(),
  };
}

/** A fresh, empty store for one test (counts and orders are exact there), removed afterwards. */
export async function withFreshStore<T>(kind: StoreKind, work: (fixture: StoreFixture) => Promise<T>): Promise<T> {
  const fixture = fixtureOf(await kind.prepare());
  try {
    return await work(fixture);
  } finally {
    try {
      await fixture.close();
    } finally {
      await fixture.prepared.cleanup();
    }
  }
}

/** Asserts that `promise` is refused with an OrchestratorError of `code`; returns the error. */
export async function refusal(promise: Promise<unknown>, code: ErrorCode): Promise<OrchestratorError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof OrchestratorError, `expected an OrchestratorError ${code}, got ${(error as Error)?.stack ?? String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a refusal with ${code}, but the call succeeded`);
}

/** Everything the store holds, parent by parent (archived ones too): equal before and after = nothing changed. */
export async function contentsOf(store: TaskStore): Promise<Record<string, ParentTask>> {
  const contents: Record<string, ParentTask> = {};
  for (const summary of await store.list({ includeArchived: true })) contents[summary.parent_task_id] = await store.read(summary.parent_task_id);
  return contents;
}

/**
 * A parent for the port tests: subtasks `<id>.1`, `<id>.2`, ... with these statuses (completed ones
 * with results), updated at `updatedAt`.
 */
export function parentOf(id: string, statuses: SubtaskStatus[], fields: Partial<ParentTask> = {}): ParentTask {
  const subtasks = statuses.map((status, i) =>
    subtask(`${id}.${i + 1}`, { status, ...(status === 'completed' ? { results: `results of ${i + 1}`, completed_at: NOW } : {}) }),
  );
  const complete = statuses.length > 0 && statuses.every((s) => s === 'completed');
  return parentWith(subtasks, { parent_task_id: id, title: `Parent ${id}`, description: `Goal of ${id}`, updated_at: NOW, revision: 1, ...(complete ? { status: 'completed', completed_at: NOW } : {}), ...fields });
}

/** ISO times one second apart from a fixed start, in order: updated_at values whose order is certain. */
export const tick = (n: number) => new Date(Date.parse('2025-06-02T00:00:00.000Z') + n * 1000).toISOString();

/** A JSON copy: what any store gives back for a value it stored (no undefined fields, no shared objects). */
export const stored = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The plan the MCP tests use, so both suites exercise the same dependency shape. */
export { samplePlan } from '../mcp/harness.js';

/** The subtask ids of a plan_task reply by the plan's handles. */
export function idsOf(plan: { subtasks: { handle: string; task_id: string }[] }): Record<string, string> {
  return Object.fromEntries(plan.subtasks.map((s) => [s.handle, s.task_id]));
}
