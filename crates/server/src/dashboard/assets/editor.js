// The code view's editor (docs/dashboard.md, "The code view"; decision 0056). The page works
// without this script: a textarea in a form that saves, publishes and tries the draft. This
// replaces the textarea with CodeMirror 6 (vendored: codemirror/) and adds, as one types:
// - the validator's errors inline: the REST API's POST …/draft/validate, debounced, its
//   diagnostics (line, column, key, hint) drawn under the text and listed below it;
// - completion of keys from the bot file's JSON Schema (/assets/bot-schema.json), for the
//   mapping the cursor is in, found from the indentation of the lines above.
// The form still posts: the editor's text goes back into the textarea on submit.
import {
  EditorView, basicSetup, EditorState, yaml, linter, lintGutter, autocompletion,
} from '/assets/codemirror-6.0.2.min.js';

const form = document.getElementById('editor-form');
const textarea = document.getElementById('source');
const problems = document.getElementById('problems');
const csrf = document.querySelector('input[name="csrf"]')?.value || '';
const bot = form?.dataset.bot;
const workspace = form?.dataset.workspace;

// The validator's answer for `source`: {valid, diagnostics}, or null when it could not be asked.
async function validate(source) {
  const response = await fetch(`/api/v1/bots/${encodeURIComponent(bot)}/draft/validate`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf, 'X-Workspace': workspace },
    body: JSON.stringify({ source }),
  });
  if (!response.ok) return null;
  return response.json();
}

// A diagnostic's place in the document: its line and column (from 1), clamped to the text.
function place(doc, d) {
  if (!d.line) return { from: 0, to: Math.min(doc.length, doc.line(1).to) };
  const line = doc.line(Math.min(Math.max(d.line, 1), doc.lines));
  const from = Math.min(line.from + Math.max((d.column || 1) - 1, 0), line.to);
  // To the end of the word there (a key), at least one character when the line has one.
  const rest = doc.sliceString(from, line.to);
  const word = rest.match(/^[^\s:]+/);
  return { from, to: word ? from + word[0].length : Math.min(from + 1, line.to) };
}

function message(d) {
  return `${d.key ? `${d.key}: ` : ''}${d.detail}${d.hint ? ` (${d.hint})` : ''}`;
}

// The list under the editor, as the server renders it (textContent only: no markup from text).
function showProblems(diagnostics) {
  problems.replaceChildren();
  if (!diagnostics.length) {
    const p = document.createElement('p');
    p.textContent = problems.dataset.none || 'No problems found.';
    problems.append(p);
    return;
  }
  const list = document.createElement('ul');
  list.className = 'diagnostics';
  for (const d of diagnostics) {
    const li = document.createElement('li');
    li.className = d.severity || 'error';
    if (d.line) {
      const at = document.createElement('strong');
      at.textContent = `line ${d.line}, column ${d.column}`;
      li.append(at, ' ');
    }
    li.append(message(d));
    list.append(li);
  }
  problems.append(list);
}

const validator = linter(async (view) => {
  const answer = await validate(view.state.doc.toString()).catch(() => null);
  if (!answer) return [];
  showProblems(answer.diagnostics);
  return answer.diagnostics.map((d) => ({
    ...place(view.state.doc, d),
    severity: d.severity === 'warning' ? 'warning' : 'error',
    message: message(d),
  }));
}, { delay: 400 });

// The JSON Schema, fetched once.
let schema = null;
fetch('/assets/bot-schema.json', { credentials: 'same-origin' })
  .then((r) => (r.ok ? r.json() : null))
  .then((s) => { schema = s; })
  .catch(() => {});

// The schema node at `ref` (`#/$defs/Name`).
function deref(node) {
  let seen = 0;
  while (node && node.$ref && seen++ < 20) {
    const path = node.$ref.replace(/^#\//, '').split('/');
    node = path.reduce((n, k) => (n ? n[k] : undefined), schema);
  }
  return node;
}

// Every variant of `node`, through $ref, anyOf, oneOf and allOf.
function variants(node, out = []) {
  node = deref(node);
  if (!node || typeof node !== 'object' || out.includes(node)) return out;
  out.push(node);
  for (const k of ['anyOf', 'oneOf', 'allOf']) (node[k] || []).forEach((n) => variants(n, out));
  return out;
}

// What a key (or `[]`: a list item) of `node` holds.
function child(node, key) {
  const found = [];
  for (const v of variants(node)) {
    if (key === '[]') {
      if (v.items) found.push(v.items);
    } else if (v.properties && v.properties[key]) {
      found.push(v.properties[key]);
    } else if (v.additionalProperties && typeof v.additionalProperties === 'object') {
      found.push(v.additionalProperties);
    }
  }
  return found.length ? { anyOf: found } : null;
}

// A line's indentation, list marker and key.
function parse(text) {
  const m = text.match(/^(\s*)(- +)?(?:([\w.-]+)\s*:)?/);
  return { at: m[1].length, dash: Boolean(m[2]), col: m[1].length + (m[2] ? m[2].length : 0), key: m[3] };
}

// The keys (and `[]` for list items) leading to the mapping whose keys start at column `col`
// on line `lineNo`; `dash` is the column of that line's list marker, -1 without one.
function pathAt(doc, lineNo, col, dash) {
  const path = [];
  let need = col;
  for (let n = lineNo - 1; n >= 1 && (need > 0 || dash >= 0); n--) {
    const text = doc.line(n).text;
    if (!text.trim() || text.trim().startsWith('#')) continue;
    const line = parse(text);
    if (dash < 0) {
      if (line.col === need && line.dash) { dash = line.at; continue; }
      if (line.col >= need) continue;
      if (!line.key) return null;
      path.unshift(line.key);
      need = line.col;
      dash = line.dash ? line.at : -1;
    } else {
      if (line.dash && line.at === dash) continue;
      if (line.col > dash || (line.dash && line.at > dash)) continue;
      if (!line.key) return null;
      path.unshift('[]');
      path.unshift(line.key);
      need = line.col;
      dash = line.dash ? line.at : -1;
    }
  }
  return path;
}

function completeKeys(context) {
  if (!schema) return null;
  const line = context.state.doc.lineAt(context.pos);
  const before = line.text.slice(0, context.pos - line.from);
  const m = before.match(/^(\s*)(- +)?([\w.-]*)$/);
  if (!m) return null;
  if (!context.explicit && !m[3]) return null;
  const col = m[1].length + (m[2] ? m[2].length : 0);
  const path = pathAt(context.state.doc, line.number, col, m[2] ? m[1].length : -1);
  if (!path) return null;
  let node = schema;
  for (const key of path) node = node && child(node, key);
  const options = new Map();
  for (const v of variants(node)) {
    for (const [key, value] of Object.entries(v.properties || {})) {
      if (options.has(key)) continue;
      const about = variants(value).map((x) => x.description).find(Boolean);
      options.set(key, { label: key, type: 'property', detail: about ? about.split('\n')[0].slice(0, 80) : undefined, apply: `${key}: ` });
    }
  }
  if (!options.size) return null;
  return { from: context.pos - m[3].length, options: [...options.values()], validFor: /^[\w.-]*$/ };
}

if (form && textarea && bot) {
  problems.dataset.none = problems.textContent.trim() && !problems.querySelector('ul') ? problems.textContent.trim() : 'No problems found.';
  const view = new EditorView({
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        basicSetup,
        yaml(),
        lintGutter(),
        validator,
        autocompletion({ override: [completeKeys], activateOnTyping: true }),
        EditorState.readOnly.of(textarea.readOnly),
        EditorView.contentAttributes.of({ 'aria-label': textarea.labels[0]?.textContent || 'Bot file', id: 'code' }),
        EditorView.cspNonce.of(form.dataset.styleNonce || ''),
      ],
    }),
  });
  textarea.hidden = true;
  textarea.after(view.dom);
  form.addEventListener('submit', () => { textarea.value = view.state.doc.toString(); });
  window.ferrogramEditor = view;
}
