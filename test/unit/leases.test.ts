import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Check } from '../../src/domain/errors.js';
import { bindingLease, checkAgentId, checkClaim, checkCompletion, endLease, grantLease, keepLostResults, releaseExpiredLease } from '../../src/domain/leases.js';
import { isInterrupted } from '../../src/domain/lifecycle.js';
import type { ActiveOwner, LostResults, ParentTask, Subtask } from '../../src/domain/model.js';
import { parentWith, subtask } from './builders.js';

/** A fixed clock: the lease runs from T0 to T0 + 60 s. */
const T0 = new Date('2025-06-01T12:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const EXPIRES = at(60).toISOString();
const OWNER: ActiveOwner = { pid: 10, host: 'box', instance: 'alive' };
const DEAD: ActiveOwner = { pid: 11, host: 'box', instance: 'gone' };
const isOwnerAlive = (o: ActiveOwner) => o.instance === 'alive';
const ID = 'task_0123456789.1';

function value<T>(check: Check<T>): T {
  if (!check.ok) assert.fail(`expected success, got ${check.code}: ${check.message}`);
  return check.value;
}

function failure<T>(check: Check<T>) {
  if (check.ok) assert.fail('expected a failure');
  return check;
}

const leased = (agent: string, fields: Partial<Subtask> = {}) => parentWith([subtask(ID, { status: 'active', active_owner: OWNER, lease: { agent_id: agent, expires_at: EXPIRES }, ...fields })]);
const the = (parent: ParentTask) => parent.subtasks[0]!;
const req = (agentId: string, seconds: number) => ({ agentId, now: at(seconds), isOwnerAlive });

describe('checkAgentId', () => {
  test('absent or blank: the session is the agent; a short name is trimmed', () => {
    assert.equal(value(checkAgentId(undefined)), null);
    assert.equal(value(checkAgentId('  ')), null);
    assert.equal(value(checkAgentId(' reviewer-2 ')), 'reviewer-2');
  });
  test('too long, control characters or not text: refused with the fix', () => {
    assert.match(failure(checkAgentId('a'.repeat(101))).message, /at most 100/);
    assert.match(failure(checkAgentId('a\nb')).message, /control characters/);
    assert.match(failure(checkAgentId('a\u202eb')).message, /control characters/);
    assert.equal(failure(checkAgentId(7)).code, 'INVALID_INPUT');
  });
});

describe('leases on a fixed clock', () => {
  test('another agent is refused with SUBTASK_CLAIMED naming holder and expiry while the lease runs', () => {
    const refusal = failure(checkClaim(leased('a'), ID, req('b', 59)));
    assert.equal(refusal.code, 'SUBTASK_CLAIMED');
    assert.deepEqual(refusal.data, { task_id: ID, holder: 'a', expires_at: EXPIRES });
    assert.match(refusal.message, /agent "a" under a lease until 2025-06-01T12:01:00.000Z \(1 s from now\)/);
    assert.equal(failure(checkCompletion(leased('a'), ID, req('b', 59))).code, 'SUBTASK_CLAIMED');
  });

  test('the holder renews; after expiry (or when the granting process is gone) another agent may take it', () => {
    assert.deepEqual(value(checkClaim(leased('a'), ID, req('a', 30))), { renewal: true });
    assert.deepEqual(value(checkClaim(leased('a'), ID, req('b', 60))), { renewal: false });
    assert.deepEqual(value(checkClaim(leased('a', { active_owner: DEAD }), ID, req('b', 1))), { renewal: false });
    assert.equal(bindingLease(the(leased('a')), at(59.999), isOwnerAlive)?.agent_id, 'a');
    assert.equal(bindingLease(the(leased('a')), at(60), isOwnerAlive), null);
    assert.equal(bindingLease(the(leased('a', { lease: { agent_id: 'a', expires_at: 'garbage' } })), at(0), isOwnerAlive), null, 'an unreadable expiry never locks a subtask for good');
  });

  test('expired leases and dead owners count as interrupted', () => {
    assert.equal(isInterrupted(the(leased('a')), isOwnerAlive, at(59)), false);
    assert.equal(isInterrupted(the(leased('a')), isOwnerAlive, at(60)), true);
    assert.equal(isInterrupted(the(leased('a', { active_owner: DEAD })), isOwnerAlive, at(1)), true);
  });

  test('a takeover records the old holder as lost: its late completion is LEASE_LOST, the new holder completes', () => {
    const taken = grantLease(leased('a'), ID, { agentId: 'b', expiresAt: at(120).toISOString(), owner: OWNER, previous: the(leased('a')).lease, now: at(61) });
    assert.deepEqual(the(taken).lease, { agent_id: 'b', expires_at: at(120).toISOString() });
    assert.deepEqual(the(taken).lost_leases, [{ agent_id: 'a', expires_at: EXPIRES, lost_at: at(61).toISOString() }]);
    const verdict = value(checkCompletion(taken, ID, req('a', 62)));
    assert.equal(verdict.kind, 'lost');
    assert.equal(verdict.kind === 'lost' && verdict.holder?.agent_id, 'b');
    assert.deepEqual(value(checkCompletion(taken, ID, req('b', 62))), { kind: 'allowed' });
    // Later the old holder takes it again lawfully: it is no longer "lost".
    const back = grantLease(taken, ID, { agentId: 'a', expiresAt: at(300).toISOString(), owner: OWNER, previous: the(taken).lease, now: at(200) });
    assert.deepEqual(the(back).lost_leases?.map((l) => l.agent_id), ['b']);
    assert.deepEqual(value(checkCompletion(back, ID, req('a', 201))), { kind: 'allowed' });
  });

  test('a completion ends the lease; going past an expired lease of another agent records it as lost', () => {
    const before = leased('a');
    const after = { ...before, subtasks: [{ ...the(before), status: 'completed' as const, results: 'done' }] };
    assert.equal(the(endLease(before, after, ID, 'a', at(10))).lease, null);
    const byOther = endLease(before, after, ID, 'b', at(61));
    assert.deepEqual(the(byOther).lost_leases?.map((l) => l.agent_id), ['a']);
    assert.equal(value(checkCompletion(byOther, ID, req('a', 62))).kind, 'lost', 'the old holder is told, even with the subtask completed');
    assert.equal(endLease(before, before, ID, 'a', at(1)), before, 'a repeat changes nothing');
  });

  test('lost results are kept once per retry', () => {
    const note: LostResults = { agent_id: 'a', at: at(62).toISOString(), next_action: 'complete', results: 'my work', detailed_work_file: null, artifacts: [] };
    const kept = keepLostResults(leased('b'), ID, note);
    assert.deepEqual(the(kept).lost_results, [note]);
    assert.equal(keepLostResults(kept, ID, { ...note, at: at(63).toISOString() }), kept);
  });

  test('releaseExpiredLease: back to pending with no lease or owner, only once expired', () => {
    const parent = leased('a');
    assert.equal(releaseExpiredLease(parent, ID, at(59)), parent);
    assert.equal(releaseExpiredLease(parentWith([subtask(ID)]), ID, at(100)).subtasks[0]!.status, 'pending');
    const released = the(releaseExpiredLease(parent, ID, at(60).toISOString()));
    assert.equal(released.status, 'pending');
    assert.equal(released.lease, null);
    assert.equal(released.active_owner, null);
    assert.deepEqual(released.lost_leases?.map((l) => l.agent_id), ['a']);
  });
});
