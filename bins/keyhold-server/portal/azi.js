// Ask Azi (`#/azi`): a sentence becomes one of keyhold's operations, carried out with the
// person's own access. A destructive one asks for confirmation first; its confirmation
// token stays in this module until it is used or cancelled. A created key's token goes to
// the one-time token panel and nowhere else.

import { api } from '/portal/api.js';
import {
  h, field, messageLine, say, pageHeading, defList, busy, formatTime, formatMs,
} from '/portal/dom.js';
import { showTokenPanel, removeTokenPanel } from '/portal/secret.js';

// Never rendered, at any depth: the reply may carry a token (a created key's).
const HIDDEN_FIELDS = new Set(['token', 'password', 'secret', 'code', 'confirmation']);
// Shown as the answer rather than as part of what was understood.
const ANSWER_FIELDS = ['question', 'reason', 'help'];

const INTENTS = {
  create_key: 'Create an API key',
  list_keys: 'List the keys',
  revoke_key: 'Revoke a key',
  revoke_all: 'Revoke every key of the workspace',
  rotate_connection: 'Rotate a connection',
  refuse: 'Refuse',
  clarify: 'Ask a question back',
  unknown: 'Nothing I can do',
};

export async function render(view, ctx) {
  const input = h('textarea', { id: 'azi-input', rows: '3', maxlength: '4096', required: true,
    placeholder: 'Create an API key for the mobile app with 30-day expiry', 'data-focus': true });
  const ask = h('button', { type: 'submit', id: 'azi-ask', class: 'primary', text: 'Ask' });
  const error = messageLine('azi-error');
  const intent = h('div', { id: 'azi-intent', class: 'azi-intent', hidden: true });
  const answer = h('p', { id: 'azi-answer', class: 'azi-answer', 'aria-live': 'polite', hidden: true });
  const question = h('p', { id: 'azi-question', class: 'azi-question' });
  const confirm = h('button', { type: 'button', id: 'azi-confirm', class: 'danger', text: 'Confirm' });
  const cancel = h('button', { type: 'button', id: 'azi-cancel', text: 'Cancel' });
  const confirmBox = h('div', { class: 'confirm-box', role: 'group', 'aria-labelledby': 'azi-question',
    hidden: true }, question, h('div', { class: 'actions' }, cancel, confirm));
  const result = h('div', { id: 'azi-result', class: 'azi-result', hidden: true });
  const panelHost = h('div', { class: 'panel-host' });
  const form = h('form', { id: 'azi-form', class: 'card', novalidate: true },
    field('Ask Azi', input, 'For example: "List my keys", "Revoke the grafana key", '
      + '"Rotate the orders connection". Azi acts with your own access, in this workspace only.'),
    h('div', { class: 'actions' }, ask));
  const reply = h('section', { class: 'card azi-reply', 'aria-label': 'Azi\'s reply', hidden: true },
    intent, answer, confirmBox, result);
  const ui = { input, error, intent, answer, question, confirmBox, result, panelHost, reply, ctx };

  // The confirmation of the last reply: { sentence, token }, used at most once.
  let pending = null;
  ctx.onLeave(() => { pending = null; });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const sentence = input.value.trim();
    if (!sentence) {
      say(error, 'Type a request for Azi first.');
      input.focus();
      return;
    }
    pending = null;
    busy(ask, 'Asking…', async () => { pending = await send(ui, { sentence }); });
  });
  confirm.addEventListener('click', () => {
    if (!pending) return;
    const body = { sentence: pending.sentence, confirmation: pending.token };
    pending = null; // a confirmation is used once, whatever the outcome
    busy(confirm, 'Working…', async () => { pending = await send(ui, body); });
  });
  cancel.addEventListener('click', () => {
    pending = null;
    confirmBox.hidden = true;
    show(answer, 'Cancelled. Nothing was changed.');
    input.focus();
  });

  view.append(
    pageHeading('Ask Azi', 'Azi turns a sentence into one of keyhold\'s operations: create, list '
      + 'or revoke API keys, or rotate a connection. She never shows a secret.'),
    panelHost, form, error, reply,
  );
}

/** Sends `body` and renders the reply; resolves to the new pending confirmation, if any. */
async function send(ui, body) {
  say(ui.error, '');
  removeTokenPanel();
  try {
    const reply = await api('POST', '/v1/assistant', body);
    body.confirmation = undefined;
    if (!ui.ctx.isCurrent()) return null;
    return renderReply(ui, body.sentence, reply);
  } catch (err) {
    ui.confirmBox.hidden = true;
    say(ui.error, err);
    return null;
  }
}

/** Draws a reply; returns the confirmation to keep, when one is asked for. */
function renderReply(ui, sentence, reply) {
  ui.reply.hidden = false;
  ui.confirmBox.hidden = true;
  ui.result.hidden = true;
  ui.result.replaceChildren();
  renderIntent(ui.intent, reply.intent);
  const said = ANSWER_FIELDS.map((f) => reply.intent && reply.intent[f]).find(Boolean);

  if (reply.status === 'confirm' && reply.confirmation) {
    const c = reply.confirmation;
    show(ui.answer, 'This changes something: confirm to go ahead.');
    ui.question.textContent = c.question;
    ui.confirmBox.hidden = false;
    ui.confirmBox.querySelector('#azi-cancel').focus();
    return { sentence, token: c.token };
  }
  if (reply.status === 'done' && reply.result) {
    renderDone(ui, reply.result);
    return null;
  }
  show(ui.answer, said || 'Nothing was done.');
  return null;
}

/** What Azi understood, as a definition list (without the answer's text). */
function renderIntent(el, intent) {
  el.replaceChildren();
  if (!intent || typeof intent !== 'object') {
    el.hidden = true;
    return;
  }
  const pairs = [['Understood', INTENTS[intent.intent] || String(intent.intent)]];
  for (const [k, v] of Object.entries(intent)) {
    if (k === 'intent' || ANSWER_FIELDS.includes(k) || HIDDEN_FIELDS.has(k)) continue;
    pairs.push([label(k), readable(v)]);
  }
  el.append(h('h2', { text: 'What I understood' }), defList(pairs));
  el.hidden = false;
}

/** Renders what was done. A minted key's token goes to the token panel only. */
function renderDone(ui, result) {
  const [kind, value] = Object.entries(result)[0] || [];
  let summary = 'Done.';
  let details = null;
  if (kind === 'minted') {
    summary = `Done: created the key ${value.key.name}.`;
    showTokenPanel(ui.panelHost, value, ui.ctx.onLeave); // moves the token out of `value`
  } else if (kind === 'keys') {
    const keys = value.keys || [];
    summary = keys.length ? `Done: ${keys.length} key${keys.length === 1 ? '' : 's'}.` : 'Done: no keys yet.';
    details = keys.length ? keyList(keys) : null;
  } else if (kind === 'revoked') {
    summary = `Done: revoked the key ${value.name}.`;
    details = safeFacts(value);
  } else if (kind === 'revoked_all') {
    summary = `Done: revoked every key of ${value.workspace} (${value.keys_revoked} were active).`;
    details = safeFacts(value);
  } else if (kind === 'rotated') {
    details = safeFacts({ connection: value.connection.name, passed: value.passed,
      active_slot: value.connection.active, failure: value.failure, detail: value.detail });
    summary = value.passed
      ? `Done: rotated ${value.connection.name}; slot ${value.connection.active} is active now.`
      : `The rotation of ${value.connection.name} failed its test: `
        + `${[value.failure, value.detail].filter(Boolean).join(' ')}. The active credential keeps serving.`;
  } else if (value && typeof value === 'object') {
    details = safeFacts(value);
  }
  show(ui.answer, summary);
  if (details) {
    ui.result.replaceChildren(details);
    ui.result.hidden = false;
  }
}

/** A short list of keys (never a token: the API has none to give). */
function keyList(keys) {
  return h('ul', { class: 'plain-list' }, keys.map((k) => h('li', {},
    h('strong', { text: k.name }), ` — ${k.status}, expires ${formatTime(k.expires_at)}, `
      + `scopes ${(k.scopes || []).join(', ') || '—'}`)));
}

/** An object's plain fields as a definition list, leaving out anything secret-like. */
function safeFacts(obj) {
  const pairs = Object.entries(obj)
    .filter(([k, v]) => !HIDDEN_FIELDS.has(k) && v !== null && typeof v !== 'object')
    .map(([k, v]) => [label(k), when(k, v)]);
  return defList(pairs);
}

/** A field's value as words: times (`…_at` seconds, `…_ms` milliseconds) as dates. */
function when(name, v) {
  if (name.endsWith('_at')) return formatTime(v);
  if (name.endsWith('_ms')) return formatMs(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

/** A value as words: lists joined, nested objects flattened (hidden fields left out). */
function readable(v) {
  if (Array.isArray(v)) return v.length ? v.map(readable).join(', ') : 'none';
  if (v && typeof v === 'object') {
    return Object.entries(v).filter(([k]) => !HIDDEN_FIELDS.has(k))
      .map(([k, x]) => `${label(k)}: ${readable(x)}`).join('; ');
  }
  return v === null || v === undefined ? '—' : String(v);
}

/** `expires_at` → "Expires at", `revoked_at_ms` → "Revoked at". */
function label(name) {
  const words = String(name).replace(/_ms$/, '').replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function show(el, text) {
  el.textContent = text;
  el.hidden = !text;
}
