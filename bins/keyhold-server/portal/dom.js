// Small DOM helpers. Everything is built with createElement and textContent: no HTML
// strings, no inline styles, no inline handlers (the Content-Security-Policy forbids them).

/**
 * Creates an element. `props`: `class`, `text`, `dataset` (an object), `on<event>`
 * (a function, added as a listener), anything else as an attribute (`true` → present,
 * `false`/null/undefined → left out). Children may be nodes, strings or null.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'style' || name === 'innerHTML') throw new Error(`h(): ${name} is not allowed`);
    if (name === 'class') el.className = value;
    else if (name === 'text') el.textContent = String(value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Appends nodes and strings (as text) to `el`, skipping null and false. */
export function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A labelled form control: `<div class="field"><label for=id>…</label>control hint</div>`. */
export function field(label, control, hint) {
  const wrap = h('div', { class: 'field' }, h('label', { for: control.id, text: label }), control);
  if (hint) {
    const hintId = `${control.id}-hint`;
    control.setAttribute('aria-describedby', hintId);
    wrap.append(h('p', { class: 'hint', id: hintId, text: hint }));
  }
  return wrap;
}

/** A message line: role `alert` for errors, `status` for the rest. Hidden while empty. */
export function messageLine(id, kind = 'error') {
  return h('p', {
    id,
    class: kind === 'error' ? 'message error' : 'message notice',
    role: kind === 'error' ? 'alert' : 'status',
    hidden: true,
  });
}

/** Shows `text` in a message line (an Error shows its message); empty text hides it. */
export function say(el, text) {
  const t = text instanceof Error ? errorText(text) : (text || '');
  el.textContent = t;
  el.hidden = t === '';
}

/** Words for people about an error. */
export function errorText(err) {
  return err && err.message ? err.message : 'Something went wrong. Please try again.';
}

/** Puts a "Loading…" line into `container`; returns the function that removes it. */
export function showLoading(container, text = 'Loading…') {
  const line = h('p', { class: 'loading', role: 'status', text });
  container.append(line);
  return () => line.remove();
}

/** Marks a button busy while `work` runs (disabled, with `busyText`), then restores it. */
export async function busy(button, busyText, work) {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = busyText;
  try {
    return await work();
  } finally {
    button.textContent = label;
    button.disabled = false;
  }
}

/** The page's heading and title: `<h1>` with `name`, `document.title` "<name> · keyhold". */
export function pageHeading(name, lead) {
  document.title = `${name} · keyhold`;
  const header = h('div', { class: 'page-head' }, h('h1', { tabindex: '-1', text: name }));
  if (lead) header.append(h('p', { class: 'lead', text: lead }));
  return header;
}

/** A table inside a horizontally scrollable wrapper. `columns`: header texts (an empty
 * string gives a visually hidden "Actions"). Returns { wrap, table, tbody }. */
export function dataTable(id, caption, columns) {
  const headRow = h('tr', {}, columns.map((c) => h('th', { scope: 'col' },
    c === '' ? h('span', { class: 'visually-hidden', text: 'Actions' }) : c)));
  const tbody = h('tbody');
  const table = h('table', { id, class: 'data' },
    h('caption', { class: 'visually-hidden', text: caption }), h('thead', {}, headRow), tbody);
  const wrap = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
    table);
  return { wrap, table, tbody };
}

/** A definition list from [term, description] pairs (descriptions may be nodes). */
export function defList(pairs, className = 'facts') {
  return h('dl', { class: className },
    pairs.flatMap(([term, desc]) => [h('dt', { text: term }), h('dd', {}, desc)]));
}

const pad = (n) => String(n).padStart(2, '0');

/** A Date as local `YYYY-MM-DD HH:MM`. */
function stamp(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} `
    + `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Unix seconds as local `YYYY-MM-DD HH:MM`; `none` when absent. */
export function formatTime(seconds, none = '—') {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return none;
  return stamp(new Date(Number(seconds) * 1000));
}

/** Unix milliseconds as local `YYYY-MM-DD HH:MM`; `none` when absent. */
export function formatMs(ms, none = '—') {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return none;
  return stamp(new Date(Number(ms)));
}
