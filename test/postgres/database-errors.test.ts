/** How driver failures become refusals: no database needed, the errors are built as the driver and Node raise them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { databaseError, isConnectionFailure, isDeadConnection } from '../../src/store/postgres/database-errors.js';

const context = { url: 'postgres://someone:hunter2@db.example:5432/team?sslmode=verify-full', what: 'list the tasks', outcome: 'not_changed' as const, poolSize: 7 };
const systemError = (code: string, message: string) => Object.assign(new Error(message), { code });

test('network failures are retryable STORAGE_UNAVAILABLE; a reset connection is run again', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED']) {
    const error = databaseError(systemError(code, `connect ${code} 10.0.0.1:5432`), context);
    assert.equal(error.code, 'STORAGE_UNAVAILABLE', code);
    assert.equal(error.data.retryable, true, code);
    assert.match(error.message, /cannot be reached/, code);
  }
  assert.equal(isDeadConnection(systemError('ECONNRESET', 'read ECONNRESET')), true);
  assert.equal(isDeadConnection(systemError('ETIMEDOUT', 'connect ETIMEDOUT')), false, 'a database that does not answer is not called again at once');
});

test('TLS and other configuration errors of this process are STORAGE_ERROR, not retryable, and say to check sslmode', () => {
  const failures = [
    systemError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames: Host: db.example. is not in the cert's altnames: DNS:other"),
    systemError('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'),
    systemError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'),
    systemError('CERT_HAS_EXPIRED', 'certificate has expired'),
    new Error('The server does not support SSL connections'),
  ];
  for (const failure of failures) {
    assert.equal(isConnectionFailure(failure), false, failure.message);
    const error = databaseError(failure, context);
    assert.equal(error.code, 'STORAGE_ERROR', failure.message);
    assert.equal(error.data.retryable, false, failure.message);
    assert.match(error.message, /TLS connection to the database postgres:\/\/someone:\*\*\*@db\.example:5432\/team.*sslmode/, failure.message);
    assert.doesNotMatch(error.message, /Check that PostgreSQL runs|hunter2/);
  }
  const other = databaseError(systemError('ERR_INVALID_ARG_TYPE', 'The "path" argument must be of type string'), context);
  assert.deepEqual([other.code, other.data.retryable], ['STORAGE_ERROR', false], 'a Node ERR_* code is no network failure');
});

test('the pool\'s own wait for a free connection: STORAGE_UNAVAILABLE naming the pool, not an unreachable database', () => {
  const error = databaseError(new Error('timeout exceeded when trying to connect'), context);
  assert.equal(error.code, 'STORAGE_UNAVAILABLE');
  assert.match(error.message, /^All 7 connections to the database .* are busy/);
  assert.doesNotMatch(error.message, /cannot be reached/);
  assert.equal(isDeadConnection(new Error('timeout exceeded when trying to connect')), false, 'not run again at once');
});
