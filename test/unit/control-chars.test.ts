import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeControlChars, escapeJsonControlChars, hasControlChars } from '../../src/domain/control-chars.js';
import { printable } from '../../src/cli/format.js';

const HOSTILE = 'Title\u001b[2J\u001b]52;c;ZXZpbA==\u0007\r\nnext\u009b31m\u202eevil\u2028end\u007f';

test('one line: newlines, ESC, BEL, CR, C1, DEL, bidi overrides and separators become visible escapes; tab and ordinary text stay', () => {
  assert.equal(escapeControlChars('a\tb é 日本'), 'a\tb é 日本');
  assert.equal(escapeControlChars(HOSTILE), 'Title\\u001b[2J\\u001b]52;c;ZXZpbA==\\u0007\\r\\nnext\\u009b31m\\u202eevil\\u2028end\\u007f');
  assert.doesNotMatch(escapeControlChars(HOSTILE), /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u202e]/);
});

test('multiline: newlines stay, a Windows line end becomes a newline, a lone CR is escaped', () => {
  assert.equal(escapeControlChars('one\r\ntwo\rthree\n\u001b[Kfour', { multiline: true }), 'one\ntwo\\rthree\n\\u001b[Kfour');
});

test('JSON text: the characters JSON.stringify leaves raw are escaped, and the result is the same JSON value', () => {
  const value = { title: HOSTILE };
  const json = escapeJsonControlChars(JSON.stringify(value));
  assert.doesNotMatch(json, /[\u0000-\u001f\u007f-\u009f\u2028\u202e]/);
  assert.deepEqual(JSON.parse(json), value);
});

test('printable() escapes every string of a report, deeply, and leaves the original alone', () => {
  const report = { title: 'a\u001bb', n: 3, ok: true, none: null, subtasks: [{ results: 'x\r\ny\u001b[2J' }], at: new Date(0) };
  const shown = printable(report);
  assert.deepEqual(shown, { title: 'a\\u001bb', n: 3, ok: true, none: null, subtasks: [{ results: 'x\ny\\u001b[2J' }], at: new Date(0) });
  assert.equal(report.title, 'a\u001bb');
});

test('hasControlChars: any control, tab and bidirectional marks included; plain names pass', () => {
  for (const bad of ['a\tb', 'a\nb', 'x\u001b[2J', 'x\u0085', 'x\u202e', 'x\u2028']) assert.equal(hasControlChars(bad), true, JSON.stringify(bad));
  for (const good of ['reviewer-2', '3f1c2b7e-9a1d-4c55-8f0e-2b1d0c9e7a61', 'agent ü']) assert.equal(hasControlChars(good), false, good);
});
