// The dashboard page: plain DOM, no framework. Task text is only ever set with textContent (never innerHTML).
'use strict';

const PAGE_SIZE = 50;
const state = { filter: 'active', offset: 0, events: null };
const view = () => document.getElementById('view');

/** Creates an element; children are nodes or strings (strings become text nodes, so they are never parsed as HTML). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

class Unauthorized extends Error {}

async function api(path, body) {
  const init = body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  const res = await fetch(`/dashboard/api/${path}`, { credentials: 'same-origin', ...init });
  if (res.status === 401) throw new Unauthorized();
  const data = await res.json();
  if (!res.ok) throw new Error(data.message || `HTTP ${res.status}`);
  return data;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');
const enc = encodeURIComponent;

function showLogin() {
  document.getElementById('login').hidden = false;
  document.getElementById('nav').hidden = true;
  document.getElementById('login-failed').hidden = location.hash !== '#login-failed';
  view().replaceChildren();
  document.getElementById('token').focus();
}

async function render() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const parts = hash.split('/').filter(Boolean).map(decodeURIComponent);
  try {
    let content;
    if (parts[0] === 'health') content = await healthView();
    else if (parts[0] === 'p' && parts[2] === 's') content = await subtaskView(parts[1], parts[3]);
    else if (parts[0] === 'p') content = await parentView(parts[1]);
    else content = await listView();
    document.getElementById('login').hidden = true;
    document.getElementById('nav').hidden = false;
    view().replaceChildren(content);
    startEvents();
  } catch (error) {
    if (error instanceof Unauthorized) return showLogin();
    view().replaceChildren(el('p', { class: 'error', role: 'alert' }, `Could not load: ${error.message}`));
  }
}

async function listView() {
  const data = await api(`parents?filter=${state.filter}&offset=${state.offset}&limit=${PAGE_SIZE}`);
  const filterButton = (name) => el('button', { type: 'button', 'aria-pressed': String(state.filter === name), onclick: () => { state.filter = name; state.offset = 0; render(); } }, name);
  const items = data.parents.map((p) => el('li', { 'data-parent': p.parent_task_id },
    el('a', { href: `#/p/${enc(p.parent_task_id)}` }, p.title || p.parent_task_id),
    el('div', { class: 'meta' }, `${p.parent_task_id} · ${p.progress.completed_subtasks}/${p.progress.total_subtasks} done · updated ${when(p.updated_at)}`,
      p.blocked ? el('span', { class: 's-blocked badge' }, ` · ${p.blocked} blocked`) : null,
      p.interrupted ? el('span', { class: 's-blocked badge' }, ` · ${p.interrupted} interrupted`) : null),
    el('progress', { max: p.progress.total_subtasks || 1, value: p.progress.completed_subtasks, 'aria-label': `${p.progress.progress_percentage}% done` })));
  const last = Math.min(data.offset + data.parents.length, data.total);
  return el('div', {},
    el('h1', {}, 'Tasks'),
    el('div', { class: 'filters', role: 'group', 'aria-label': 'Filter' }, ['active', 'archived', 'blocked', 'interrupted'].map(filterButton)),
    el('p', { class: 'meta', id: 'count' }, data.total ? `${data.offset + 1}–${last} of ${data.total}` : 'No tasks here.'),
    el('ul', { class: 'parents' }, items),
    el('div', { class: 'pager' },
      el('button', { type: 'button', disabled: state.offset === 0, onclick: () => { state.offset = Math.max(0, state.offset - PAGE_SIZE); render(); } }, 'Previous'),
      el('button', { type: 'button', disabled: last >= data.total, onclick: () => { state.offset += PAGE_SIZE; render(); } }, 'Next')));
}

/** Layers: a subtask's depth is one more than its deepest dependency's (cycles cannot be stored). */
function depths(subtasks) {
  const byId = new Map(subtasks.map((s) => [s.task_id, s]));
  const memo = new Map();
  const depth = (s, seen = new Set()) => {
    if (memo.has(s.task_id)) return memo.get(s.task_id);
    seen.add(s.task_id);
    const deps = (s.dependencies || []).map((d) => byId.get(d)).filter((d) => d && !seen.has(d.task_id));
    const value = deps.length ? 1 + Math.max(...deps.map((d) => depth(d, seen))) : 0;
    memo.set(s.task_id, value);
    return value;
  };
  return new Map(subtasks.map((s) => [s.task_id, depth(s)]));
}

/** What a subtask's box says. `statusById` (its siblings' statuses) tells ready from waiting; without it, pending stays pending. */
function stateOf(s, interrupted, statusById) {
  if (s.status === 'active' && s.lease) {
    const expired = Date.parse(s.lease.expires_at) < Date.now();
    return `active: ${s.lease.agent_id}, ${expired ? 'expired' : 'until'} ${new Date(s.lease.expires_at).toLocaleTimeString()}`;
  }
  if (s.status === 'active' && interrupted) return 'active: interrupted';
  if (s.status === 'pending' && statusById) {
    const waiting = (s.dependencies || []).filter((d) => statusById.get(d) !== 'completed');
    return waiting.length ? `waiting on ${waiting.length}` : 'ready';
  }
  return s.status;
}

function graph(parentId, subtasks, interruptedIds) {
  const W = 220, H = 58, GX = 60, GY = 16;
  const depth = depths(subtasks);
  const statusById = new Map(subtasks.map((s) => [s.task_id, s.status]));
  const columns = [];
  for (const s of subtasks) (columns[depth.get(s.task_id)] ||= []).push(s);
  const pos = new Map();
  columns.forEach((column, x) => column.forEach((s, y) => pos.set(s.task_id, { x: 10 + x * (W + GX), y: 10 + y * (H + GY) })));
  const width = 20 + columns.length * (W + GX) - GX;
  const height = 20 + Math.max(...columns.map((c) => c.length)) * (H + GY) - GY;
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'group', 'aria-label': 'Subtasks by dependency depth' });
  for (const s of subtasks) for (const d of s.dependencies || []) {
    const a = pos.get(d), b = pos.get(s.task_id);
    if (a && b) root.append(svg('line', { x1: a.x + W, y1: a.y + H / 2, x2: b.x, y2: b.y + H / 2 }));
  }
  for (const s of subtasks) {
    const p = pos.get(s.task_id);
    const label = stateOf(s, interruptedIds.includes(s.task_id), statusById);
    const title = s.title.length > 30 ? `${s.title.slice(0, 29)}…` : s.title;
    const link = svg('a', { href: `#/p/${enc(parentId)}/s/${enc(s.task_id)}`, class: `node s-${s.status}`, 'data-subtask': s.task_id, 'aria-label': `${s.title}: ${label}` },
      svg('rect', { x: p.x, y: p.y, width: W, height: H, rx: 6, class: `s-${s.status}` }),
      svg('text', { x: p.x + 8, y: p.y + 22 }, title),
      svg('text', { x: p.x + 8, y: p.y + 44, class: `s-${s.status}` }, label.length > 34 ? `${label.slice(0, 33)}…` : label));
    root.append(link);
  }
  return el('div', { class: 'graph' }, root);
}

async function parentView(id) {
  const [detail, history] = await Promise.all([api(`parents/${enc(id)}`), api(`history/${enc(id)}`)]);
  const parent = detail.parent;
  const done = parent.subtasks.every((s) => s.status === 'completed');
  return el('div', {},
    el('p', {}, el('a', { href: '#/' }, '← All tasks')),
    el('h1', {}, parent.title || parent.parent_task_id),
    el('p', { class: 'meta' }, `${parent.parent_task_id} · ${detail.location} · ${detail.progress.completed_subtasks}/${detail.progress.total_subtasks} done`),
    el('progress', { max: detail.progress.total_subtasks || 1, value: detail.progress.completed_subtasks, 'aria-label': `${detail.progress.progress_percentage}% done` }),
    el('pre', { class: 'text' }, parent.description),
    done && detail.location === 'active' ? el('div', { class: 'actions' }, el('button', { type: 'button', onclick: () => act(`Archive "${parent.title}"? It moves to the archive; nothing is deleted.`, 'archive', { parent_task_id: id }) }, 'Archive this task')) : null,
    el('h2', {}, 'Subtasks'),
    graph(id, parent.subtasks, detail.interrupted_subtask_ids),
    el('h2', {}, 'History'),
    el('ol', { class: 'timeline', id: 'timeline' }, history.events.map((e) => el('li', {},
      el('time', { datetime: e.at }, when(e.at)), ` ${e.task_id}: ${e.from ?? 'created'} → ${e.to}`, e.agent ? ` by ${e.agent}` : '', e.note ? ` (${e.note})` : ''))));
}

async function subtaskView(parentId, taskId) {
  const d = await api(`subtasks/${enc(parentId)}/${enc(taskId)}`);
  const s = d.subtask;
  const expired = s.lease && Date.parse(s.lease.expires_at) < Date.now();
  const actions = [];
  if (s.status === 'active' && (expired || d.interrupted)) actions.push(el('button', { type: 'button', onclick: () => act(`Release ${s.task_id}? It goes back to pending; ${s.lease ? s.lease.agent_id : 'its server'} loses it.`, 'release', { parent_task_id: parentId, task_id: taskId }) }, 'Release the lease'));
  if (s.status === 'blocked') actions.push(el('button', { type: 'button', onclick: () => act(`Unblock ${s.task_id}? It goes back to pending with your note.`, 'unblock', { parent_task_id: parentId, task_id: taskId }, true) }, 'Unblock…'));
  const section = (title, text) => (text ? [el('h2', {}, title), el('pre', { class: 'text' }, text)] : []);
  return el('div', {},
    el('p', {}, el('a', { href: `#/p/${enc(parentId)}` }, '← The task')),
    el('h1', {}, s.title),
    el('p', { class: `badge s-${s.status}`, id: 'status' }, stateOf(s, d.interrupted)),
    el('p', { class: 'meta' }, `${s.task_id} · ${s.specialist_type} · depends on ${s.dependencies.length ? s.dependencies.join(', ') : 'nothing'}`),
    actions.length ? el('div', { class: 'actions' }, actions) : null,
    ...section('Blocked because', s.blocked_reason),
    ...section('Description', s.description),
    ...section('Results', s.results),
    ...section('Detailed work', d.detailed_work),
    ...section('Earlier notes', (s.revision_notes || []).join('\n\n')),
    ...section('Prompt', d.prompt));
}

async function healthView() {
  const report = await api('health');
  return el('div', {},
    el('h1', {}, 'Health'),
    el('p', { id: 'health-summary', class: report.counts.problems ? 'problem' : '' }, report.summary),
    el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'Severity'), el('th', {}, 'Subject'), el('th', {}, 'Finding'), el('th', {}, 'What to do'))),
      el('tbody', {}, report.items.map((f) => el('tr', {}, el('td', { class: f.severity === 'problem' ? 'problem' : '' }, f.severity), el('td', {}, f.subject), el('td', {}, f.message), el('td', {}, f.remedy))))),
    report.total_items > report.items.length ? el('p', { class: 'meta' }, `${report.total_items - report.items.length} more: run "task-orchestrator doctor".`) : null);
}

/** Asks for confirmation in a modal dialog (and a note when asked), then sends the action. */
function act(question, action, body, withNote = false) {
  const note = withNote ? el('textarea', { id: 'action-note', required: true, 'aria-label': 'Note' }) : null;
  const error = el('p', { class: 'error', role: 'alert' });
  const dialog = el('dialog', { id: 'confirm' },
    el('form', { method: 'dialog' },
      el('p', {}, question), note ? el('label', { for: 'action-note' }, 'Why it may go on') : null, note, error,
      el('div', { class: 'actions' }, el('button', { type: 'submit', value: 'ok', id: 'confirm-ok' }, 'Confirm'), el('button', { type: 'submit', value: 'cancel' }, 'Cancel'))));
  dialog.addEventListener('close', async () => {
    dialog.remove();
    if (dialog.returnValue !== 'ok') return;
    try {
      await api(`actions/${action}`, note ? { ...body, note: note.value } : body);
      await render();
    } catch (e) {
      view().prepend(el('p', { class: 'error', role: 'alert' }, `Not done: ${e.message}`));
    }
  });
  document.body.append(dialog);
  dialog.showModal();
}

/** Follows changes: the server says which parents changed; the view shown is fetched again when it concerns them. */
function startEvents() {
  if (state.events) return;
  const live = document.getElementById('live');
  const events = new EventSource('/dashboard/api/events');
  state.events = events;
  let pending = null;
  let opened = false;
  events.addEventListener('open', () => {
    live.textContent = 'live';
    if (opened) render(); // reconnected: changes made while the stream was down were not announced
    opened = true;
  });
  events.addEventListener('error', () => (live.textContent = 'reconnecting…'));
  events.addEventListener('changed', (event) => {
    const ids = JSON.parse(event.data).parent_task_ids;
    const shown = (location.hash.match(/^#\/p\/([^/]+)/) || [])[1];
    if (shown && !ids.includes(decodeURIComponent(shown))) return;
    if (location.hash.startsWith('#/health')) return;
    if (document.querySelector('dialog[open]')) return; // do not pull the page from under a confirmation
    clearTimeout(pending);
    pending = setTimeout(() => { render(); }, 50);
  });
}

window.addEventListener('hashchange', () => { if (location.hash !== '#login-failed') render(); });
document.addEventListener('DOMContentLoaded', render);
