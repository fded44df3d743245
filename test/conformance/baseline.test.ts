/** npm run conformance's verdict: the suite's results against conformance/expected-failures.yaml. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { judge, parseExpectedFailures, scenarioStatus, type Check, type ScenarioResult } from '../../scripts/conformance/baseline.js';

const success: Check = { id: 'a', name: 'A', status: 'SUCCESS' };
const failure: Check = { id: 'b', name: 'B', status: 'FAILURE', errorMessage: 'MCP error -32601: Method not found' };
const warning: Check = { id: 'c', name: 'C', status: 'WARNING', errorMessage: 'no retry field' };
const info: Check = { id: 'd', name: 'D', status: 'INFO', details: { message: 'not applicable here' } } as Check;

const results = (entries: Record<string, Check[] | null>): ScenarioResult[] => Object.entries(entries).map(([scenario, checks]) => ({ scenario, checks }));

describe('scenarioStatus', () => {
  test('pass needs a success and no failure or warning; a warning fails, as in the suite', () => {
    assert.equal(scenarioStatus([success]), 'pass');
    assert.equal(scenarioStatus([success, info]), 'pass');
    assert.equal(scenarioStatus([success, failure]), 'fail');
    assert.equal(scenarioStatus([success, warning]), 'fail');
  });

  test('nothing recorded fails; only informational checks is "not applicable", not a pass', () => {
    assert.equal(scenarioStatus(null), 'fail');
    assert.equal(scenarioStatus([]), 'fail');
    assert.equal(scenarioStatus([info]), 'not-applicable');
  });
});

describe('judge', () => {
  test('results that match the baseline are ok', () => {
    const verdict = judge(results({ ping: [success], 'prompts-list': [failure], 'server-sse-polling': [info] }), ['prompts-list']);
    assert.equal(verdict.ok, true);
    assert.deepEqual([verdict.unexpectedFailures, verdict.stalePasses, verdict.unknownEntries], [[], [], []]);
    assert.deepEqual(verdict.outcomes.map((o) => [o.scenario, o.status, o.expectedToFail]), [['ping', 'pass', false], ['prompts-list', 'fail', true], ['server-sse-polling', 'not-applicable', false]]);
  });

  test('a failure not in the baseline fails the run', () => {
    const verdict = judge(results({ ping: [failure], 'prompts-list': [failure] }), ['prompts-list']);
    assert.equal(verdict.ok, false);
    assert.deepEqual(verdict.unexpectedFailures, ['ping']);
    assert.match(verdict.outcomes[0]!.why, /B: MCP error -32601: Method not found/);
  });

  test('a scenario the suite recorded nothing for (crash, timeout) is a failure', () => {
    const verdict = judge(results({ ping: null }), []);
    assert.deepEqual(verdict.unexpectedFailures, ['ping']);
    assert.match(verdict.outcomes[0]!.why, /recorded no result/);
  });

  test('a baseline entry that passes now (or is found not applicable) fails the run: the baseline is stale', () => {
    const passing = judge(results({ 'prompts-list': [success] }), ['prompts-list']);
    assert.equal(passing.ok, false);
    assert.deepEqual(passing.stalePasses, ['prompts-list']);
    const inapplicable = judge(results({ 'server-sse-polling': [info] }), ['server-sse-polling']);
    assert.deepEqual(inapplicable.stalePasses, ['server-sse-polling']);
  });

  test('a baseline entry for a scenario that did not run (renamed, removed, misspelt) fails the run', () => {
    const verdict = judge(results({ ping: [success] }), ['prompts-lst']);
    assert.equal(verdict.ok, false);
    assert.deepEqual(verdict.unknownEntries, ['prompts-lst']);
  });
});

describe('parseExpectedFailures', () => {
  test('the server list of the suite\'s format; an empty file lists nothing', () => {
    assert.deepEqual(parseExpectedFailures('server:\n  - ping # why\n  - tools-list\nclient: [x]\n', 'f.yaml'), ['ping', 'tools-list']);
    assert.deepEqual(parseExpectedFailures('', 'f.yaml'), []);
    assert.deepEqual(parseExpectedFailures('server: []\n', 'f.yaml'), []);
  });

  test('a malformed file is refused, naming the file and what is expected', () => {
    assert.throws(() => parseExpectedFailures('- ping\n', 'f.yaml'), /f\.yaml: expected a mapping with a "server:" list/);
    assert.throws(() => parseExpectedFailures('server: ping\n', 'f.yaml'), /f\.yaml: "server:" must be a list of scenario names/);
    assert.throws(() => parseExpectedFailures('server: [1, {a: b}]\n', 'f.yaml'), /must be a list of scenario names/);
  });

  test('the project\'s baseline parses and names each scenario once', async () => {
    const file = path.resolve(import.meta.dirname, '../../conformance/expected-failures.yaml');
    const names = parseExpectedFailures(await readFile(file, 'utf8'), file);
    assert.ok(names.length > 0);
    assert.equal(new Set(names).size, names.length);
  });
});
