// The twinsim explorer (docs/explorer.md): one page over the same-origin ADT
// REST API of `twinsim serve`, drawing twins with cytoscape.js. No build step.
'use strict';

const API_VERSION = '2023-10-31';
const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem('twinsim.token') || '',
  models: new Map(),      // id -> model data (with its DTDL in .model)
  twins: new Map(),       // id -> twin JSON as last read (with $etag)
  selected: null,         // {kind: 'twin'|'rel', id, source?}
  live: null,             // AbortController of the event stream
  asOf: null,             // time-travel instant (ISO string) or null for now
  results: null,          // {file, description, comparison} of the chosen results file
};

// --- the API ---------------------------------------------------------------

class ApiFailure extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

function url(path, params = {}) {
  const u = new URL(path, location.origin);
  u.searchParams.set('api-version', API_VERSION);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) u.searchParams.set(k, v);
  return u.pathname + u.search;
}

function headers(extra = {}) {
  const h = { ...extra };
  if (state.token) h.Authorization = 'Bearer ' + state.token;
  return h;
}

// One request; an error answer becomes an ApiFailure whose message says in
// words what went wrong (ADT's error body carries the code and message).
async function api(method, path, { body, params, etag, contentType, raw } = {}) {
  const h = headers();
  if (body !== undefined) h['Content-Type'] = contentType || 'application/json';
  if (etag) h['If-Match'] = etag;
  let response;
  try {
    response = await fetch(raw ? path : url(path, params), { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiFailure(0, 'NetworkError', 'the server cannot be reached (' + e.message + ')');
  }
  const text = await response.text();
  let json = null;
  if (text) { try { json = JSON.parse(text); } catch { json = null; } }
  if (!response.ok) {
    const err = (json && json.error) || {};
    throw new ApiFailure(response.status, err.code || String(response.status), describeFailure(response.status, err, method, path));
  }
  return { json, etag: response.headers.get('ETag'), status: response.status };
}

function describeFailure(status, err, method, path) {
  const what = `${method} ${decodeURIComponent(path)}`;
  const said = err.message ? `: ${err.message}` : '';
  if (status === 401) return `Not signed in or the token was refused (401 ${err.code || ''})${said}. Paste a valid token above.`;
  if (status === 403) return `Not allowed (403 Forbidden)${said}. Your token's roles do not grant this action; the role "Azure Digital Twins Data Owner" grants every data action.`;
  if (status === 412) return `Someone changed this item since it was read (412 PreconditionFailed, If-Match did not match); it has been reloaded: look and try again.`;
  if (status === 404) return `Not found (404 ${err.code || ''})${said}.`;
  return `${what} failed (${status} ${err.code || ''})${said}.`;
}

function showError(e) {
  const box = $('error');
  box.textContent = e instanceof ApiFailure || e instanceof Error ? e.message : String(e);
  box.hidden = false;
}
function clearError() { $('error').hidden = true; $('error').textContent = ''; }

// Every page of a list (models, relationships) by following nextLink.
async function listAll(path, params) {
  const items = [];
  let page = await api('GET', path, { params });
  for (;;) {
    items.push(...(page.json.value || []));
    if (!page.json.nextLink) return items;
    const next = new URL(page.json.nextLink);
    page = await api('GET', next.pathname + next.search, { raw: true });
  }
}

async function queryAll(query, limit = 2000) {
  const rows = [];
  let body = { query };
  const params = state.asOf ? { 'as-of': state.asOf } : {};
  for (;;) {
    const page = await api('POST', '/query', { body, params });
    rows.push(...(page.json.value || []));
    if (!page.json.continuationToken || rows.length >= limit) return rows;
    body = { continuationToken: page.json.continuationToken };
  }
}

// --- models ----------------------------------------------------------------

async function loadModels() {
  const list = await listAll('/models', { includeModelDefinition: 'true' });
  state.models.clear();
  for (const m of list) state.models.set(m.id, m);
  const ul = $('models');
  ul.replaceChildren();
  const select = $('nt-model');
  select.replaceChildren();
  for (const m of [...state.models.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const li = document.createElement('li');
    const d = document.createElement('details');
    const s = document.createElement('summary');
    s.textContent = m.id + (m.decommissioned ? ' (decommissioned)' : '');
    const pre = document.createElement('pre');
    pre.textContent = JSON.stringify(m.model, null, 2);
    d.append(s, pre);
    li.append(d);
    ul.append(li);
    const o = document.createElement('option');
    o.value = o.textContent = m.id;
    select.append(o);
  }
}

// A model's contents with those of the interfaces it extends.
function modelContents(modelId, seen = new Set()) {
  if (seen.has(modelId)) return [];
  seen.add(modelId);
  const m = state.models.get(modelId);
  if (!m || !m.model) return [];
  const dtdl = m.model;
  const own = Array.isArray(dtdl.contents) ? dtdl.contents : [];
  const bases = dtdl.extends ? (Array.isArray(dtdl.extends) ? dtdl.extends : [dtdl.extends]) : [];
  return [...bases.flatMap((b) => modelContents(typeof b === 'string' ? b : b['@id'], seen)), ...own];
}
const isType = (c, t) => (Array.isArray(c['@type']) ? c['@type'] : [c['@type']]).includes(t);

// --- the graph -------------------------------------------------------------

let cy = null;

function nodeLabel(twin, live, kpi) {
  const model = (twin.$metadata && twin.$metadata.$model) || '';
  const short = model.replace(/^dtmi:/, '').replace(/;\d+$/, '').split(':').pop();
  return `${twin.$dtId}\n${short}` + (live ? `\n${live}` : '') + (kpi ? `\n${kpi}` : '');
}

function initGraph() {
  cy = cytoscape({
    container: $('cy'),
    wheelSensitivity: 0.3,
    style: [
      { selector: 'node', style: { 'background-color': '#4a78b5', label: 'data(label)', 'text-wrap': 'wrap', 'font-size': 10,
        'text-valign': 'bottom', 'text-margin-y': 3, width: 26, height: 26, } },
      { selector: 'node[color]', style: { 'background-color': 'data(color)' } },
      { selector: 'node.nokpi', style: { 'background-color': '#c5cad3' } },
      { selector: 'node.live', style: { 'background-color': '#e67e22', 'border-width': 3, 'border-color': '#a84300' } },
      { selector: 'node:selected', style: { 'border-width': 4, 'border-color': '#f5a623' } },
      { selector: 'edge', style: { width: 2, 'line-color': '#9aa7b8', 'target-arrow-color': '#9aa7b8', 'target-arrow-shape': 'triangle',
        'curve-style': 'bezier', label: 'data(label)', 'font-size': 8, 'text-rotation': 'autorotate', color: '#4a5563' } },
      { selector: 'edge:selected', style: { 'line-color': '#f5a623', 'target-arrow-color': '#f5a623', width: 3 } },
    ],
  });
  cy.on('tap', 'node', (e) => select({ kind: 'twin', id: e.target.id() }));
  cy.on('tap', 'edge', (e) => select({ kind: 'rel', id: e.target.data('relId'), source: e.target.data('source') }));
  cy.on('tap', (e) => { if (e.target === cy) select(null); });
}

function addTwin(twin) {
  state.twins.set(twin.$dtId, twin);
  const existing = cy.getElementById(twin.$dtId);
  if (existing.nonempty()) { existing.data('label', nodeLabel(twin, existing.data('liveText'), existing.data('kpiText'))); return existing; }
  return cy.add({ group: 'nodes', data: { id: twin.$dtId, label: nodeLabel(twin) } });
}

function edgeId(rel) { return 'rel:' + rel.$sourceId + '/' + rel.$relationshipId; }

function addRelationship(rel) {
  if (cy.getElementById(rel.$sourceId).empty() || cy.getElementById(rel.$targetId).empty()) return;
  if (cy.getElementById(edgeId(rel)).nonempty()) return;
  cy.add({ group: 'edges', data: { id: edgeId(rel), source: rel.$sourceId, target: rel.$targetId,
    label: rel.$relationshipName, relId: rel.$relationshipId } });
}

function runLayout() {
  const name = $('layout').value;
  cy.layout({ name, animate: false, fit: true, padding: 30, directed: true }).run();
}

function refreshTwinList() {
  const sel = $('twinlist');
  const current = sel.value;
  sel.replaceChildren();
  cy.nodes().sort((a, b) => a.id().localeCompare(b.id())).forEach((n) => {
    const o = document.createElement('option');
    o.value = o.textContent = n.id();
    sel.append(o);
  });
  if (current && cy.getElementById(current).nonempty()) sel.value = current;
  $('count').textContent = `${cy.nodes().length} twins, ${cy.edges().length} relationships` + (state.asOf ? ` as of ${state.asOf}` : '');
}

// Rows of any query shape: twins (rows or projected columns) become nodes,
// relationships (projected) become edges.
async function runQuery() {
  clearError();
  const text = $('query').value.trim();
  if (!text) return;
  let rows;
  try { rows = await queryAll(text); } catch (e) { showError(e); return; }
  cy.elements().remove();
  state.twins.clear();
  const rels = [];
  const visit = (v) => {
    if (!v || typeof v !== 'object') return;
    if (typeof v.$dtId === 'string') addTwin(v);
    else if (typeof v.$relationshipId === 'string') rels.push(v);
    else for (const x of Object.values(v)) if (x && typeof x === 'object') visit(x);
  };
  rows.forEach(visit);
  // The relationships among the drawn twins, by one query (so that time
  // travel sees the relationships of then too).
  if (cy.nodes().length > 0) {
    try { rels.push(...await queryAll('SELECT * FROM RELATIONSHIPS', 20000)); } catch (e) { showError(e); }
  }
  rels.forEach(addRelationship);
  colourByKpi();
  runLayout();
  refreshTwinList();
  if (state.selected && state.selected.kind === 'twin' && cy.getElementById(state.selected.id).nonempty()) select(state.selected);
  else select(null);
}

async function expand(id) {
  clearError();
  if (!id) return;
  try {
    const out = await listAll(`/digitaltwins/${encodeURIComponent(id)}/relationships`);
    const inc = await listAll(`/digitaltwins/${encodeURIComponent(id)}/incomingrelationships`);
    const others = new Set([...out.map((r) => r.$targetId), ...inc.map((r) => r.$sourceId)]);
    for (const other of others) {
      if (cy.getElementById(other).nonempty()) continue;
      try { addTwin((await api('GET', `/digitaltwins/${encodeURIComponent(other)}`)).json); } catch (e) { if (e.status !== 404) throw e; }
    }
    for (const n of others) {
      for (const r of await listAll(`/digitaltwins/${encodeURIComponent(n)}/relationships`)) addRelationship(r);
    }
    out.forEach(addRelationship);
    runLayout();
    refreshTwinList();
  } catch (e) { showError(e); }
}

// --- the property panel ----------------------------------------------------

async function select(sel) {
  state.selected = sel;
  cy.elements().unselect();
  $('props').hidden = true;
  $('delete').hidden = !sel || !!state.asOf;
  $('patch').textContent = '';
  if (!sel) { $('sel-title').textContent = 'Nothing selected'; $('raw').textContent = ''; renderWhatIf(); return; }
  if (sel.kind !== 'twin') $('whatif-panel').hidden = true;
  if (sel.kind === 'twin') {
    cy.getElementById(sel.id).select();
    $('twinlist').value = sel.id;
    $('sel-title').textContent = 'Twin ' + sel.id + (state.asOf ? ` as of ${state.asOf}` : '');
    let twin = state.twins.get(sel.id);
    if (!state.asOf) {
      try { twin = (await api('GET', `/digitaltwins/${encodeURIComponent(sel.id)}`)).json; state.twins.set(sel.id, twin); } catch (e) { showError(e); }
    }
    if (twin) renderTwin(twin);
    renderWhatIf();
  } else {
    cy.getElementById('rel:' + sel.source + '/' + sel.id).select();
    $('sel-title').textContent = `Relationship ${sel.id} of ${sel.source}`;
    try {
      const rel = (await api('GET', `/digitaltwins/${encodeURIComponent(sel.source)}/relationships/${encodeURIComponent(sel.id)}`)).json;
      $('raw').textContent = JSON.stringify(rel, null, 2);
    } catch (e) { showError(e); }
  }
}

// Another writer changed the selected twin: show its new values, but while
// the user has edits in progress keep the ETag those edits started from, so
// that saving them is refused (412) rather than overwriting unseen changes.
async function refreshSelected() {
  const sel = state.selected;
  if (!sel || sel.kind !== 'twin' || state.asOf) return;
  const inputs = [...$('prop-fields').querySelectorAll('input')];
  const dirty = inputs.some((i) => i.value !== i.dataset.original);
  let twin;
  try { twin = (await api('GET', `/digitaltwins/${encodeURIComponent(sel.id)}`)).json; } catch (e) { return; }
  if (!state.selected || state.selected.id !== sel.id) return;
  if (!dirty) { state.twins.set(sel.id, twin); renderTwin(twin, true); return; }
  const kept = state.twins.get(sel.id);
  state.twins.set(sel.id, { ...twin, $etag: kept && kept.$etag });
  $('raw').textContent = JSON.stringify(twin, null, 2);
  for (const i of inputs) {
    if (i.value !== i.dataset.original) continue;
    const v = twin[i.dataset.name];
    i.value = i.dataset.original = v === undefined ? '' : (typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
}

function renderTwin(twin, keepPatch = false) {
  if (!keepPatch) $('patch').textContent = '';
  $('raw').textContent = JSON.stringify(twin, null, 2);
  const fields = $('prop-fields');
  fields.replaceChildren();
  const model = twin.$metadata && twin.$metadata.$model;
  const props = modelContents(model).filter((c) => isType(c, 'Property'));
  for (const p of props) {
    const schema = typeof p.schema === 'string' ? p.schema : 'object';
    const writable = p.writable === true && !state.asOf;
    const label = document.createElement('label');
    label.textContent = p.name + (writable ? '' : ' (read-only)') + (schema.startsWith('dtmi:') ? '' : ` · ${schema}`);
    label.htmlFor = 'prop-' + p.name;
    const input = document.createElement('input');
    input.id = 'prop-' + p.name;
    input.dataset.name = p.name;
    input.dataset.schema = schema;
    const value = twin[p.name];
    input.value = value === undefined ? '' : (typeof value === 'object' ? JSON.stringify(value) : String(value));
    input.dataset.original = input.value;
    input.readOnly = !writable;
    if (!writable) input.className = 'prop-ro';
    fields.append(label, input);
  }
  $('props').hidden = props.length === 0;
  $('save-props').disabled = !!state.asOf;
}

function parseValue(text, schema) {
  if (['double', 'float', 'integer', 'long'].includes(schema)) {
    const n = Number(text);
    if (text.trim() === '' || Number.isNaN(n)) throw new Error(`"${text}" is not a number (the property is a ${schema})`);
    return n;
  }
  if (schema === 'boolean') {
    if (text !== 'true' && text !== 'false') throw new Error(`"${text}" is not true or false (the property is a boolean)`);
    return text === 'true';
  }
  if (schema === 'string' || schema.startsWith('dtmi:')) return text;
  try { return JSON.parse(text); } catch { return text; }
}

// The JSON Patch of what was edited: add for a property the twin did not
// have, replace for one it had, remove for one emptied.
function buildPatch(twin) {
  const patch = [];
  for (const input of $('prop-fields').querySelectorAll('input')) {
    if (input.readOnly || input.value === input.dataset.original) continue;
    const path = '/' + input.dataset.name.replace(/~/g, '~0').replace(/\//g, '~1');
    if (input.value === '' && input.dataset.schema !== 'string') { patch.push({ op: 'remove', path }); continue; }
    patch.push({ op: input.dataset.name in twin ? 'replace' : 'add', path, value: parseValue(input.value, input.dataset.schema) });
  }
  return patch;
}

async function saveProperties(ev) {
  ev.preventDefault();
  clearError();
  const sel = state.selected;
  if (!sel || sel.kind !== 'twin') return;
  const twin = state.twins.get(sel.id);
  let patch;
  try { patch = buildPatch(twin); } catch (e) { showError(e); return; }
  $('patch').textContent = JSON.stringify(patch, null, 2) + `\nIf-Match: ${twin.$etag}`;
  if (patch.length === 0) { $('patch').textContent = '(nothing changed)'; return; }
  try {
    await api('PATCH', `/digitaltwins/${encodeURIComponent(sel.id)}`, { body: patch, contentType: 'application/json-patch+json', etag: twin.$etag });
  } catch (e) {
    showError(e);
    if (e.status === 412) {  // show what the other writer left, and keep what was sent on screen
      const sent = $('patch').textContent;
      await select(sel);
      $('patch').textContent = sent + '\n→ refused: 412 PreconditionFailed';
    }
    return;
  }
  const fresh = (await api('GET', `/digitaltwins/${encodeURIComponent(sel.id)}`)).json;
  addTwin(fresh);
  renderTwin(fresh, true);
}

async function deleteSelected() {
  clearError();
  const sel = state.selected;
  if (!sel || state.asOf) return;
  const what = sel.kind === 'twin' ? `twin ${sel.id}` : `relationship ${sel.id}`;
  if (!confirm(`Delete ${what}?`)) return;
  try {
    if (sel.kind === 'twin') {
      const twin = state.twins.get(sel.id);
      await api('DELETE', `/digitaltwins/${encodeURIComponent(sel.id)}`, { etag: twin && twin.$etag });
      cy.getElementById(sel.id).remove();
      state.twins.delete(sel.id);
    } else {
      await api('DELETE', `/digitaltwins/${encodeURIComponent(sel.source)}/relationships/${encodeURIComponent(sel.id)}`);
      cy.getElementById('rel:' + sel.source + '/' + sel.id).remove();
    }
    refreshTwinList();
    select(null);
  } catch (e) { showError(e); }
}

async function createTwin(ev) {
  ev.preventDefault();
  clearError();
  const id = $('nt-id').value.trim();
  let body;
  try { body = JSON.parse($('nt-body').value || '{}'); } catch (e) { showError(new Error('The properties are not a JSON object: ' + e.message)); return; }
  if (!body || typeof body !== 'object' || Array.isArray(body)) { showError(new Error('The properties must be a JSON object')); return; }
  body.$metadata = { $model: $('nt-model').value };
  try {
    const twin = (await api('PUT', `/digitaltwins/${encodeURIComponent(id)}`, { body })).json;
    addTwin(twin);
    runLayout();
    refreshTwinList();
    select({ kind: 'twin', id });
  } catch (e) { showError(e); }
}

async function createRelationship(ev) {
  ev.preventDefault();
  clearError();
  const sel = state.selected;
  if (!sel || sel.kind !== 'twin') { showError(new Error('Select the source twin first')); return; }
  const name = $('nr-name').value.trim();
  const target = $('nr-target').value.trim();
  const relId = $('nr-id').value.trim() || `${sel.id}-${name}-${target}`;
  try {
    const rel = (await api('PUT', `/digitaltwins/${encodeURIComponent(sel.id)}/relationships/${encodeURIComponent(relId)}`,
      { body: { $targetId: target, $relationshipName: name } })).json;
    if (cy.getElementById(target).empty()) {
      try { addTwin((await api('GET', `/digitaltwins/${encodeURIComponent(target)}`)).json); } catch (e) { showError(e); }
      runLayout();
    }
    addRelationship(rel);
    refreshTwinList();
  } catch (e) { showError(e); }
}

// --- saved queries (this browser's localStorage) ---------------------------

function savedQueries() { try { return JSON.parse(localStorage.getItem('twinsim.queries') || '[]'); } catch { return []; } }
function renderSaved() {
  const ul = $('saved');
  ul.replaceChildren();
  savedQueries().forEach((q, i) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button'; b.className = 'link'; b.textContent = q;
    b.addEventListener('click', () => { $('query').value = q; runQuery(); });
    const x = document.createElement('button');
    x.type = 'button'; x.textContent = '×'; x.setAttribute('aria-label', 'Forget query ' + q);
    x.addEventListener('click', () => { const all = savedQueries(); all.splice(i, 1); localStorage.setItem('twinsim.queries', JSON.stringify(all)); renderSaved(); });
    li.append(b, ' ', x);
    ul.append(li);
  });
}
function saveQuery() {
  const q = $('query').value.trim();
  if (!q) return;
  const all = savedQueries().filter((x) => x !== q);
  all.unshift(q);
  localStorage.setItem('twinsim.queries', JSON.stringify(all.slice(0, 50)));
  renderSaved();
}

// --- live updates: the server-sent-events stream ---------------------------
// fetch() rather than EventSource, which cannot send the Authorization header.

function applyPatch(twin, patch) {
  for (const op of patch || []) {
    const key = op.path.slice(1).split('/')[0].replace(/~1/g, '/').replace(/~0/g, '~');
    if (op.path.split('/').length > 2) continue;  // nested: the next read shows it
    if (op.op === 'remove') delete twin[key]; else twin[key] = op.value;
  }
}

function flash(node, text) {
  if (text !== undefined) node.data('liveText', text);
  node.data('label', nodeLabel(state.twins.get(node.id()) || { $dtId: node.id() }, node.data('liveText'), node.data('kpiText')));
  node.addClass('live');
  clearTimeout(node.scratch('_liveTimer'));
  node.scratch('_liveTimer', setTimeout(() => node.removeClass('live'), 1500));
}

const summarise = (obj) => Object.entries(obj || {}).filter(([k]) => !k.startsWith('$')).slice(0, 3)
  .map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toPrecision(4) : JSON.stringify(v)}`).join(' ');

function onEvent(ev) {
  state.lastEventAt = Date.now();
  if (state.asOf) return;  // the graph shows the past
  const type = ev.type || '';
  if (type === 'microsoft.iot.telemetry') {
    const at = (ev.source || '').lastIndexOf('/digitaltwins/');
    const id = at < 0 ? '' : ev.source.slice(at + 14);
    const node = cy.getElementById(id);
    if (node.nonempty()) flash(node, summarise(ev.data));
    return;
  }
  const subject = ev.subject || '';
  if (type.endsWith('Twin.Update')) {
    const twin = state.twins.get(subject);
    const node = cy.getElementById(subject);
    if (twin && ev.data) applyPatch(twin, ev.data.patch);
    if (node.nonempty()) flash(node, summarise(Object.fromEntries((ev.data && ev.data.patch || []).map((op) => [op.path.slice(1), op.value]))));
    if (state.selected && state.selected.kind === 'twin' && state.selected.id === subject) refreshSelected();
  } else if (type.endsWith('Twin.Delete')) {
    cy.getElementById(subject).remove(); state.twins.delete(subject); refreshTwinList();
  } else if (type.endsWith('Relationship.Create')) {
    if (ev.data) { addRelationship(ev.data); refreshTwinList(); }
  } else if (type.endsWith('Relationship.Delete')) {
    const [source, , rel] = subject.split('/');
    cy.getElementById('rel:' + source + '/' + rel).remove(); refreshTwinList();
  }
}

async function startLive() {
  if (state.live) state.live.abort();
  const controller = new AbortController();
  state.live = controller;
  $('live').textContent = 'live: connecting';
  try {
    const response = await fetch(url('/events'), { headers: headers({ Accept: 'text/event-stream' }), signal: controller.signal });
    if (!response.ok) {
      let err = {};
      try { err = (await response.json()).error || {}; } catch { /* not JSON */ }
      $('live').textContent = `live: off (${response.status} ${err.code || ''})`;
      return;
    }
    $('live').textContent = 'live: on';
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
        if (data) { try { onEvent(JSON.parse(data)); } catch (e) { console.warn('bad event frame', e); } }
      }
    }
    $('live').textContent = 'live: ended';
  } catch (e) {
    if (controller.signal.aborted) return;
    $('live').textContent = 'live: lost (' + e.message + ')';
  }
  if (state.live === controller) setTimeout(() => { if (state.live === controller) startLive(); }, 3000);
}

// --- time travel: the query on the graph as it was (POST /query?as-of=) -----

function setAsOf(iso) {
  state.asOf = iso;
  document.body.classList.toggle('past', !!iso);
  for (const b of document.querySelectorAll('#new-twin button, #new-rel button')) b.disabled = !!iso;
  $('asof').value = iso || '';
  if (!iso) $('slider').value = $('slider').max;
  select(null);
  runQuery();
}

function sliderTime() {
  const span = Number($('window').value) * 1000;
  const f = Number($('slider').value) / Number($('slider').max);
  if (f >= 1) return null;
  return new Date(Date.now() - span * (1 - f)).toISOString();
}

function onAsOfTyped(ev) {
  if (ev.key !== 'Enter') return;
  ev.preventDefault();
  const text = $('asof').value.trim();
  if (!text) { setAsOf(null); return; }
  const t = new Date(text);
  if (Number.isNaN(t.getTime()) || !/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}/.test(text)) {
    showError(new Error(`"${text}" is not a time: write it as RFC 3339, e.g. 2026-07-14T14:00:00Z`));
    return;
  }
  const span = Number($('window').value) * 1000;
  $('slider').value = Math.max(0, Math.min(1000, Math.round(1000 * (1 - (Date.now() - t.getTime()) / span))));
  setAsOf(t.toISOString());
}


// --- what-if results: GET /results (twinsim serve --results DIR) -----------
// Pick a results file, a scenario and a KPI: the twins the KPI has a value
// for (its selections: twin ids for `over: each`) are coloured by its mean
// across replications; the selected twin shows a sparkline of a recorded
// series and the comparison of every scenario for the KPI.

const fmt = (v) => (v === null || v === undefined || Number.isNaN(v) ? '–' : (Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : String(+v.toPrecision(4))));
const resultsPath = (file, rest = '') => `/results/${encodeURIComponent(file)}${rest}`;
// A unit worth showing ('1' is dimensionless), with its leading space.
const unitText = (u) => (u && u !== '1' ? ' ' + u : '');
// A sweep's scenario "capacity[machinists=7,buffer=3]" as "capacity: machinists=7, buffer=3" (wraps at the commas).
function scenarioLabel(name) {
  const m = /^(.*?)\[(.*)\]$/.exec(name);
  return m ? `${m[1]}: ${m[2].replace(/,/g, ', ')}` : name;
}

function option(select, value, text) {
  const o = document.createElement('option');
  o.value = value; o.textContent = text === undefined ? value : text;
  select.append(o);
}

async function loadResultsFiles() {
  const select = $('rfile');
  const keep = select.value;
  select.replaceChildren();
  let files = [];
  try { files = (await api('GET', '/results')).json.value || []; } catch (e) {
    option(select, '', e.status === 501 ? '(none: the server has no --results DIR)' : '(cannot list: ' + e.status + ')');
    if (e.status !== 501) showError(e);
    return;
  }
  option(select, '', files.length ? '(none)' : '(no results files yet)');
  for (const f of files) option(select, f.name, `${f.name} (${(f.bytes / 1048576).toFixed(1)} MiB)`);
  if (keep && files.some((f) => f.name === keep)) select.value = keep;
}

async function chooseResultsFile() {
  clearError();
  const file = $('rfile').value;
  state.results = null;
  $('rscenario').replaceChildren();
  $('rkpi').replaceChildren();
  if (file) {
    try {
      const description = (await api('GET', resultsPath(file))).json;
      const comparison = (await api('GET', resultsPath(file, '/comparison'))).json;
      state.results = { file, description, comparison };
    } catch (e) { showError(e); }
  }
  if (state.results) for (const sc of state.results.description.scenarios) option($('rscenario'), sc.name, scenarioLabel(sc.name));
  chooseScenario();
}

function currentScenario() {
  const r = state.results;
  return r && r.description.scenarios.find((s) => s.name === $('rscenario').value);
}
function currentKpi() {
  const sc = currentScenario();
  return sc && sc.kpis.find((k) => k.name === $('rkpi').value);
}

function chooseScenario() {
  const sc = currentScenario();
  const keep = $('rkpi').value;
  $('rkpi').replaceChildren();
  if (sc) {
    // KPIs over several twins first: those are the ones that colour the graph.
    const kpis = [...sc.kpis].sort((a, b) => (b.selections.length > 1) - (a.selections.length > 1));
    for (const k of kpis) option($('rkpi'), k.name, `${k.name} (${k.statistic}${unitText(k.unit) ? ',' + unitText(k.unit) : ''}; ${k.selections.length} ${k.selections.length === 1 ? 'selection' : 'selections'})`);
    if (keep && sc.kpis.some((k) => k.name === keep)) $('rkpi').value = keep;
  }
  colourByKpi();
  renderWhatIf();
}

// Blue (low) to red (high), the legend's gradient.
const STOPS = [[44, 123, 182], [171, 217, 233], [255, 255, 191], [253, 174, 97], [215, 25, 28]];
function rampColour(f) {
  const x = Math.max(0, Math.min(1, f)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const t = x - i;
  const c = STOPS[i].map((v, k) => Math.round(v + (STOPS[i + 1][k] - v) * t));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function colourByKpi() {
  if (!cy) return;
  const kpi = currentKpi();
  cy.nodes().forEach((n) => {
    n.removeData('color'); n.removeData('kpiText'); n.removeClass('nokpi');
    n.data('label', nodeLabel(state.twins.get(n.id()) || { $dtId: n.id() }, n.data('liveText')));
  });
  if (!kpi) { $('legend').hidden = true; return; }
  const values = new Map();
  for (const s of kpi.selections) if (s.mean !== null && cy.getElementById(s.selection).nonempty()) values.set(s.selection, s.mean);
  const all = [...values.values()];
  const lo = Math.min(...all), hi = Math.max(...all);
  cy.nodes().forEach((n) => {
    if (!values.has(n.id())) { n.addClass('nokpi'); return; }
    const v = values.get(n.id());
    n.data('color', rampColour(hi > lo ? (v - lo) / (hi - lo) : 0.5));
    n.data('kpiText', `${kpi.name} ${fmt(v)}${unitText(kpi.unit)}`);
    n.data('label', nodeLabel(state.twins.get(n.id()) || { $dtId: n.id() }, n.data('liveText'), n.data('kpiText')));
  });
  $('legend').hidden = false;
  $('legend-low').textContent = all.length ? fmt(lo) : '';
  $('legend-high').textContent = all.length ? fmt(hi) + unitText(kpi.unit) : '';
  const sc = currentScenario();
  $('legend-text').textContent = all.length
    ? `${values.size} twins coloured by ${kpi.name} (mean of ${sc.replications} replications, scenario ${scenarioLabel(sc.name)}); grey: no value`
    : `no drawn twin is a selection of ${kpi.name} (it is over ${kpi.selections.map((s) => s.selection).slice(0, 3).join(', ')}${kpi.selections.length > 3 ? ', …' : ''})`;
}

// The selection of the KPI the table shows: the selected twin's when the
// KPI has one for it, else its only (or first) selection.
function tableSelection(kpi) {
  const sel = state.selected;
  if (sel && sel.kind === 'twin' && kpi.selections.some((s) => s.selection === sel.id)) return sel.id;
  return kpi.selections.length ? kpi.selections[0].selection : '';
}

function renderComparison() {
  const kpi = currentKpi();
  const body = $('compare').tBodies[0];
  body.replaceChildren();
  if (!kpi || !state.results) { $('compare-caption').textContent = 'Choose a KPI above.'; return; }
  const selection = tableSelection(kpi);
  const cmp = state.results.comparison;
  $('compare-caption').textContent = `${kpi.name}${unitText(kpi.unit)} of ${selection}` + (cmp.baseline ? `; baseline ${scenarioLabel(cmp.baseline)}` : '');
  for (const sc of cmp.scenarios) {
    const k = sc.kpis.find((x) => x.name === kpi.name && x.selection === selection);
    const tr = document.createElement('tr');
    if (sc.name === $('rscenario').value) tr.className = 'current';
    tr.dataset.scenario = sc.name;
    const name = document.createElement('td');
    const b = document.createElement('button');
    b.type = 'button'; b.className = 'link'; b.textContent = scenarioLabel(sc.name);
    b.setAttribute('aria-label', `Show scenario ${sc.name}`);
    b.addEventListener('click', () => { $('rscenario').value = sc.name; chooseScenario(); });
    name.append(b);
    const numbers = document.createElement('td');
    numbers.className = 'num';
    const mean = document.createElement('div');
    mean.textContent = k ? `${fmt(k.mean)} [${fmt(k.ci95_low)}, ${fmt(k.ci95_high)}]` : 'not recorded';
    const vs = document.createElement('div');
    vs.className = 'vs';
    const d = k && k.vs_baseline;
    vs.textContent = !d ? (sc.name === cmp.baseline ? 'baseline' : '')
      : `${d.difference > 0 ? '+' : ''}${fmt(d.difference)}` + (d.paired && d.paired.n > 1 ? ` [${fmt(d.paired.ci95_low)}, ${fmt(d.paired.ci95_high)}]` : '');
    numbers.append(mean, vs);
    tr.append(name, numbers);
    body.append(tr);
  }
}

async function renderSparkline() {
  const svg = $('sparkline');
  svg.replaceChildren();
  $('spark-text').textContent = '';
  svg.setAttribute('aria-label', 'no series');
  const sel = state.selected;
  const sc = currentScenario();
  const series = $('rseries').value;
  if (!sc || !sel || sel.kind !== 'twin' || !series) {
    $('spark-text').textContent = sc && sel && sel.kind === 'twin' ? `Scenario ${scenarioLabel(sc.name)} records no series of ${sel.id}.` : '';
    return;
  }
  let data;
  try {
    data = (await api('GET', resultsPath(state.results.file, '/sparkline'), { params: { scenario: sc.name, series, twin: sel.id, points: 150 } })).json;
  } catch (e) { showError(e); return; }
  if (state.selected !== sel || $('rseries').value !== series) return;  // the user moved on
  const finite = (v) => v !== null && Number.isFinite(v);
  const ys = [...data.low, ...data.high, ...data.mean].filter(finite);
  if (ys.length === 0) { $('spark-text').textContent = `${series}: nothing recorded for ${sel.id}.`; return; }
  const lo = Math.min(...ys), hi = Math.max(...ys);
  const n = data.mean.length;
  const X = (i) => (n > 1 ? (i / (n - 1)) * 296 + 2 : 150);
  const Y = (v) => 57 - (hi > lo ? ((v - lo) / (hi - lo)) * 54 : 27);
  const ns = 'http://www.w3.org/2000/svg';
  const band = [];
  data.high.forEach((v, i) => { if (finite(v)) band.push(`${X(i)},${Y(v)}`); });
  for (let i = n - 1; i >= 0; i -= 1) if (finite(data.low[i])) band.push(`${X(i)},${Y(data.low[i])}`);
  if (data.replications > 1 && band.length > 2) {
    const poly = document.createElementNS(ns, 'polygon');
    poly.setAttribute('points', band.join(' '));
    poly.setAttribute('fill', '#cfe0f3');
    svg.append(poly);
  }
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', data.mean.map((v, i) => (finite(v) ? `${X(i)},${Y(v)}` : null)).filter(Boolean).join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#1f5fa8');
  line.setAttribute('stroke-width', '1.5');
  line.setAttribute('vector-effect', 'non-scaling-stroke');
  line.id = 'sparkline-mean';
  svg.append(line);
  const means = data.mean.filter(finite);
  const unit = unitText(data.unit);
  const text = `${series} of ${sel.id} in ${scenarioLabel(sc.name)}: ${data.steps} recorded times in ${n} points, mean of ${data.replications} replications`
    + (data.replications > 1 ? ' (band: lowest to highest replication)' : '')
    + `; from ${fmt(means[0])} to ${fmt(means[means.length - 1])}${unit}, range ${fmt(lo)} to ${fmt(hi)}${unit}`;
  svg.setAttribute('aria-label', text);
  $('spark-text').textContent = text;
}

function renderWhatIf() {
  const sel = state.selected;
  const sc = currentScenario();
  const show = !!sc && (!sel || sel.kind === 'twin');
  $('whatif-panel').hidden = !show;
  if (!show) return;
  const keep = $('rseries').value;
  $('rseries').replaceChildren();
  const id = sel && sel.kind === 'twin' ? sel.id : null;
  for (const s of sc.series) if (id && s.twins.includes(id)) option($('rseries'), s.name, s.name + (s.unit ? ` (${s.unit})` : ''));
  if (keep && [...$('rseries').options].some((o) => o.value === keep)) $('rseries').value = keep;
  renderComparison();
  renderSparkline();
}

// --- start, sign in, keys --------------------------------------------------

async function signIn() {
  clearError();
  try {
    await loadModels();
  } catch (e) { showError(e); return; }
  startLive();
  await loadResultsFiles();
  await runQuery();
}

function moveSelection(step) {
  const ids = cy.nodes().map((n) => n.id()).sort();
  if (ids.length === 0) return;
  const at = state.selected && state.selected.kind === 'twin' ? ids.indexOf(state.selected.id) : -1;
  const next = ids[(at + step + ids.length) % ids.length];
  select({ kind: 'twin', id: next });
  cy.animate({ center: { eles: cy.getElementById(next) } }, { duration: 150 });
}

function onKey(ev) {
  const typing = ['INPUT', 'TEXTAREA', 'SELECT'].includes(document.activeElement.tagName);
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && document.activeElement === $('query')) { ev.preventDefault(); runQuery(); return; }
  if (ev.key === 'Escape') { select(null); if (typing) document.activeElement.blur(); return; }
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const key = ev.key.toLowerCase();
  if (ev.key === '/') { ev.preventDefault(); $('query').focus(); }
  else if (key === 'n') moveSelection(1);
  else if (key === 'p') moveSelection(-1);
  else if (key === 'e' && state.selected && state.selected.kind === 'twin') expand(state.selected.id);
  else if (key === 'l') { const s = $('layout'); s.selectedIndex = (s.selectedIndex + 1) % s.options.length; runLayout(); }
  else if (ev.key === 'Delete') deleteSelected();
  else if (key === 't' && state.asOf) setAsOf(null);
  else if (key === 'r') { ev.preventDefault(); $('rfile').focus(); }
}

function main() {
  initGraph();
  $('token').value = state.token;
  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.token = $('token').value.trim();
    sessionStorage.setItem('twinsim.token', state.token);
    signIn();
  });
  $('queryform').addEventListener('submit', (ev) => { ev.preventDefault(); runQuery(); });
  $('layout').addEventListener('change', runLayout);
  $('save-query').addEventListener('click', saveQuery);
  $('twinlist').addEventListener('change', () => select({ kind: 'twin', id: $('twinlist').value }));
  $('expand').addEventListener('click', () => state.selected && state.selected.kind === 'twin' && expand(state.selected.id));
  $('fit').addEventListener('click', () => cy.fit(undefined, 30));
  $('props').addEventListener('submit', saveProperties);
  $('prop-fields').addEventListener('input', () => {
    const twin = state.selected && state.twins.get(state.selected.id);
    if (!twin) return;
    try { $('patch').textContent = JSON.stringify(buildPatch(twin), null, 2) + ' (not sent yet)'; } catch (e) { $('patch').textContent = e.message; }
  });
  $('delete').addEventListener('click', deleteSelected);
  $('slider').addEventListener('change', () => setAsOf(sliderTime()));
  $('slider').addEventListener('input', () => { const t = sliderTime(); $('asof').value = t || ''; });
  $('asof').addEventListener('keydown', onAsOfTyped);
  $('now').addEventListener('click', () => setAsOf(null));
  $('new-twin').addEventListener('submit', createTwin);
  $('new-rel').addEventListener('submit', createRelationship);
  $('rfile').addEventListener('change', chooseResultsFile);
  $('rscenario').addEventListener('change', chooseScenario);
  $('rkpi').addEventListener('change', () => { colourByKpi(); renderWhatIf(); });
  $('rseries').addEventListener('change', renderSparkline);
  document.addEventListener('keydown', onKey);
  renderSaved();
  signIn();
}

// For the browser tests and the console: the graph and the page's state.
window.twinsimExplorer = { graph: () => cy, state };

document.addEventListener('DOMContentLoaded', main);
