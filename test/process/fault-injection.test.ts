/**
 * Fault injection (in process): every step of a durable write fails in turn, through the injectable
 * DurableFs. The error must surface, no temp file may be left, and the old file must be intact, except
 * when the failure comes after the rename (then the new content is in place, but not acknowledged).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OrchestratorError } from '../../src/domain/errors.js';
import type { ParentTask } from '../../src/domain/model.js';
import { parseTaskFile } from '../../src/domain/task-file.js';
import { createFileExclusive, nodeFs, UnflushedChangeError, writeFileDurable, type DurableFs } from '../../src/store/file/durable-fs.js';
import { FileTaskStore } from '../../src/store/file/file-task-store.js';
import { layoutFor } from '../../src/store/file/layout.js';
import { defaultLockOptions, LockManager } from '../../src/store/file/lock.js';
import type { Logger } from '../../src/app/ports.js';
import { silentLogger } from '../../src/logging/logger.js';
import { names, tempDir } from './helpers.js';

type Step = 'open' | 'write' | 'fsync' | 'close' | 'rename' | 'link' | 'syncDir';

/**
 * A DurableFs that fails the nth call of one step with EIO while armed. A failing write first writes
 * half of the data, as a real short write would; a failing close closes the file first.
 */
function faultyFs(): DurableFs & { arm(step: Step, nth?: number): void; disarm(): void; failed: Step[] } {
  let armed: { step: Step; nth: number } | null = null;
  const counts = new Map<Step, number>();
  const failed: Step[] = [];
  const shouldFail = (step: Step): boolean => {
    if (!armed || armed.step !== step) return false;
    const n = (counts.get(step) ?? 0) + 1;
    counts.set(step, n);
    if (n !== armed.nth) return false;
    failed.push(step);
    return true;
  };
  const eio = (step: Step) => Object.assign(new Error(`EIO: i/o error (injected at ${step})`), { code: 'EIO', errno: -5, syscall: step });
  return {
    failed,
    arm(step, nth = 1) {
      armed = { step, nth };
      counts.clear();
    },
    disarm() {
      armed = null;
    },
    async open(file, flags, mode) {
      if (shouldFail('open')) throw eio('open');
      const handle = await nodeFs.open(file, flags, mode);
      return new Proxy(handle, {
        get(target, property, receiver) {
          if (property === 'writeFile') {
            return async (data: string | Uint8Array) => {
              if (!shouldFail('write')) return target.writeFile(data);
              const bytes = typeof data === 'string' ? Buffer.from(data) : data;
              await target.writeFile(bytes.subarray(0, Math.floor(bytes.length / 2)));
              throw eio('write');
            };
          }
          if (property === 'sync') {
            return async () => {
              if (shouldFail('fsync')) throw eio('fsync');
              return target.sync();
            };
          }
          if (property === 'close') {
            return async () => {
              await target.close();
              if (shouldFail('close')) throw eio('close');
            };
          }
          const value = Reflect.get(target, property, receiver) as unknown;
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
    async rename(from, to) {
      if (shouldFail('rename')) throw eio('rename');
      return nodeFs.rename(from, to);
    },
    async link(existing, newPath) {
      if (shouldFail('link')) throw eio('link');
      return nodeFs.link(existing, newPath);
    },
    unlink: (file) => nodeFs.unlink(file),
    async syncDir(dir) {
      if (shouldFail('syncDir')) throw eio('syncDir');
      return nodeFs.syncDir(dir);
    },
  };
}

/** EIO itself, or after the commit point an UnflushedChangeError whose cause is EIO. */
const isEio = (error: unknown) => ((error instanceof UnflushedChangeError ? error.cause : error) as NodeJS.ErrnoException).code === 'EIO';

describe('writeFileDurable with each step failing', () => {
  for (const step of ['open', 'write', 'fsync', 'close', 'rename', 'syncDir'] as const) {
    test(`${step} fails`, async () => {
      const temp = await tempDir('fault-write');
      try {
        const target = path.join(temp.dir, 'task_0123456789.json');
        await writeFile(target, 'old content\n');
        const fs = faultyFs();
        fs.arm(step);
        await assert.rejects(writeFileDurable(target, 'new content, rather longer than the old one\n', fs), (error) => isEio(error) && (error instanceof UnflushedChangeError) === (step === 'syncDir'));
        assert.deepEqual(fs.failed, [step], `the ${step} step was not reached`);
        assert.deepEqual(await names(temp.dir), ['task_0123456789.json'], 'no temp file may be left');
        const expected = step === 'syncDir' ? 'new content, rather longer than the old one\n' : 'old content\n';
        assert.equal(await readFile(target, 'utf8'), expected);
        // With the fault gone, the same call works.
        fs.disarm();
        await writeFileDurable(target, 'third\n', fs);
        assert.equal(await readFile(target, 'utf8'), 'third\n');
        assert.deepEqual(await names(temp.dir), ['task_0123456789.json']);
      } finally {
        await temp.remove();
      }
    });
  }
});

describe('createFileExclusive with each step failing', () => {
  for (const step of ['open', 'write', 'fsync', 'close', 'link', 'syncDir'] as const) {
    test(`${step} fails`, async () => {
      const temp = await tempDir('fault-create');
      try {
        const target = path.join(temp.dir, 'task_0123456789.json');
        const fs = faultyFs();
        fs.arm(step);
        await assert.rejects(createFileExclusive(target, 'the full content\n', { durable: true }, fs), isEio);
        assert.deepEqual(fs.failed, [step]);
        if (step === 'syncDir') {
          // The file is in place, complete, but its creation was not acknowledged.
          assert.deepEqual(await names(temp.dir), ['task_0123456789.json']);
          assert.equal(await readFile(target, 'utf8'), 'the full content\n');
        } else {
          assert.deepEqual(await names(temp.dir), [], 'neither the target nor a temp file may exist');
        }
      } finally {
        await temp.remove();
      }
    });
  }

  test('an existing target is never replaced (EEXIST), and no temp file is left', async () => {
    const temp = await tempDir('fault-create');
    try {
      const target = path.join(temp.dir, 'task_0123456789.json');
      await writeFile(target, 'first\n');
      await assert.rejects(createFileExclusive(target, 'second\n', { durable: true }), { code: 'EEXIST' });
      assert.equal(await readFile(target, 'utf8'), 'first\n');
      assert.deepEqual(await names(temp.dir), ['task_0123456789.json']);
    } finally {
      await temp.remove();
    }
  });
});

describe('FileTaskStore with each step failing (the fs option)', () => {
  async function openStore(logger: Logger = silentLogger) {
    const temp = await tempDir('fault-store');
    const layout = layoutFor(temp.dir);
    const fs = faultyFs();
    const store = await FileTaskStore.open({ layout, logger, locks: new LockManager(layout.locksDir, defaultLockOptions({ timeoutMs: 5_000 })), fs });
    return { temp, layout, fs, store };
  }

  const parentFor = (id: string, statuses: ParentTask['subtasks'][number]['status'][]): ParentTask => ({
    version: '2.0',
    parent_task_id: id,
    description: 'Survive a failing disk',
    complexity: 'simple',
    context: '',
    created_at: '2025-06-01T12:00:00.000Z',
    revision: 1,
    subtasks: statuses.map((status, i) => ({ task_id: `${id}.${i + 1}`, title: `Step ${i + 1}`, description: '', specialist_type: 'implementer', dependencies: [], estimated_effort: '', status, results: status === 'completed' ? 'done' : null, artifacts: [], created_at: '2025-06-01T12:00:00.000Z', completed_at: null })),
  });

  for (const step of ['open', 'write', 'fsync', 'close', 'rename', 'syncDir'] as const) {
    test(`update: ${step} fails -> STORAGE_ERROR, old file intact${step === 'syncDir' ? ' (here: new file, not acknowledged)' : ''}, no temp file, lock released`, async () => {
      const { temp, layout, fs, store } = await openStore();
      try {
        const parent = await store.create((id) => parentFor(id, ['pending', 'pending']));
        const file = path.join(layout.activeDir, `${parent.parent_task_id}.json`);
        const before = await readFile(file);
        fs.arm(step);
        await assert.rejects(
          store.update(parent.parent_task_id, (p) => ({ ...p, description: 'changed' })),
          (error: unknown) =>
            error instanceof OrchestratorError &&
            error.code === 'STORAGE_ERROR' &&
            error.message.includes('EIO') &&
            error.data.errno === 'EIO' &&
            // Only a failure before the rename may claim that nothing changed.
            error.message.includes(step === 'syncDir' ? 'might not survive a power failure' : 'Nothing was changed'),
        );
        assert.deepEqual(fs.failed, [step]);
        assert.deepEqual(await names(layout.activeDir), [`${parent.parent_task_id}.json`], 'no temp file may be left');
        assert.deepEqual(await names(layout.locksDir), [], 'the lock must be released after a failed write');
        const after = await readFile(file);
        if (step === 'syncDir') {
          const parsed = parseTaskFile(after.toString('utf8'));
          assert.ok(parsed.ok && parsed.value.description === 'changed' && parsed.value.revision === 2);
        } else {
          assert.ok(after.equals(before), 'the old file must be intact, byte for byte');
        }
        // The store keeps working once the disk does.
        fs.disarm();
        const next = await store.update(parent.parent_task_id, (p) => ({ ...p, context: 'after the fault' }));
        assert.equal(next.revision, step === 'syncDir' ? 3 : 2);
        assert.equal((await store.read(parent.parent_task_id)).context, 'after the fault');
      } finally {
        await temp.remove();
      }
    });
  }

  for (const step of ['open', 'write', 'fsync', 'close', 'link'] as const) {
    test(`create: ${step} fails -> STORAGE_ERROR, no task file, no temp file`, async () => {
      const { temp, layout, fs, store } = await openStore();
      try {
        fs.arm(step);
        await assert.rejects(
          store.create((id) => parentFor(id, ['pending'])),
          (error: unknown) => error instanceof OrchestratorError && error.code === 'STORAGE_ERROR',
        );
        assert.deepEqual(await names(layout.activeDir), []);
        assert.deepEqual((await store.list({ includeArchived: true })).length, 0);
      } finally {
        await temp.remove();
      }
    });
  }

  test('create: the folder fsync fails after the link -> STORAGE_ERROR; the complete file is there, unacknowledged; no temp file', async () => {
    const { temp, layout, fs, store } = await openStore();
    try {
      fs.arm('syncDir');
      await assert.rejects(store.create((id) => parentFor(id, ['pending'])), (error: unknown) => error instanceof OrchestratorError && error.code === 'STORAGE_ERROR');
      const left = await names(layout.activeDir);
      assert.equal(left.length, 1);
      assert.ok(parseTaskFile(await readFile(path.join(layout.activeDir, left[0]!), 'utf8')).ok, 'whatever is there is complete');
    } finally {
      await temp.remove();
    }
  });

  test('the archive move fails after the completing write: the completion stands, the next start archives it', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message) => void warnings.push(message) };
    const { temp, layout, fs, store } = await openStore(logger);
    try {
      const parent = await store.create((id) => parentFor(id, ['completed', 'active']));
      const id = parent.parent_task_id;
      fs.arm('link'); // the move to tasks/archive/ is a hard link (it never replaces an archived file)
      const done = await store.update(id, (p) => ({ ...p, subtasks: p.subtasks.map((s) => ({ ...s, status: 'completed' as const, results: 'done' })) }));
      assert.equal(done.revision, 2);
      assert.deepEqual(fs.failed, ['link']);
      assert.ok(warnings.some((w) => w.includes(id) && w.includes('stays in tasks/active/')), `a warning must say so: ${warnings.join('\n')}`);
      assert.deepEqual(await names(layout.activeDir), [`${id}.json`]);
      assert.deepEqual(await names(layout.archiveDir), []);
      fs.disarm();
      const reopened = await FileTaskStore.open({ layout, logger: silentLogger, locks: new LockManager(layout.locksDir, defaultLockOptions()) });
      assert.deepEqual(reopened.lastRecovery?.archived, [id]);
      assert.deepEqual(await names(layout.activeDir), []);
      assert.deepEqual(await names(layout.archiveDir), [`${id}.json`]);
      const archived = parseTaskFile(await readFile(path.join(layout.archiveDir, `${id}.json`), 'utf8'));
      assert.ok(archived.ok && archived.value.revision === 2 && archived.value.subtasks.every((s) => s.status === 'completed'));
    } finally {
      await temp.remove();
    }
  });

  test('saveDocument: a failing write leaves no temp file in tasks/work/', async () => {
    const { temp, layout, fs, store } = await openStore();
    try {
      fs.arm('fsync');
      await assert.rejects(store.saveDocument('task_0123456789', 'task_0123456789.1', 'long text', 1), (error: unknown) => error instanceof OrchestratorError && error.code === 'STORAGE_ERROR');
      assert.deepEqual(await names(path.join(layout.workDir, 'task_0123456789')), []);
    } finally {
      await temp.remove();
    }
  });
});
