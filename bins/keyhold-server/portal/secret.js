// Secrets shown once: a new API key's token and a member's enrolment code. The value
// lives only in a read-only field; leaving the page (or pressing "Done") empties the
// field and removes it, and nothing else keeps a copy.

import { h, defList, formatTime } from '/portal/dom.js';

/**
 * A read-only field holding `value`, with its own Copy button and status line.
 * Returns { node, wipe }: `wipe()` empties the field.
 */
export function oneTimeField({ id, label, value, copyId, statusId, multiline = false }) {
  const control = multiline
    ? h('textarea', { id, readonly: true, rows: '4', spellcheck: 'false', autocomplete: 'off',
      class: 'secret' })
    : h('input', { id, type: 'text', readonly: true, spellcheck: 'false', autocomplete: 'off',
      class: 'secret' });
  control.value = value;
  const status = h('span', { id: statusId, class: 'copy-status', 'aria-live': 'polite' });
  const copy = h('button', { type: 'button', id: copyId, text: 'Copy' });
  copy.addEventListener('click', () => copyValue(control, status));
  const node = h('div', { class: 'field secret-field' },
    h('label', { for: id, text: label }), control, h('div', { class: 'row' }, copy, status));
  return { node, wipe: () => { control.value = ''; } };
}

/** Copies the field's value; without clipboard access, selects it for Ctrl+C / ⌘C. */
async function copyValue(control, status) {
  status.textContent = '';
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard');
    await navigator.clipboard.writeText(control.value);
    status.textContent = 'Copied';
  } catch {
    control.focus();
    control.select();
    status.textContent = legacyCopy() ? 'Copied' : 'Selected: press Ctrl+C (⌘C on a Mac) to copy';
  }
}

/** The pre-Clipboard-API copy of the current selection; false where it is unavailable. */
function legacyCopy() {
  try {
    return document.execCommand('copy');
  } catch {
    return false;
  }
}

/**
 * Shows a new key's token once in `#token-panel`, inserted at the top of `host`. `minted`
 * is the API's `{ key, token }`; its token is moved out of it. `onLeave` registers the
 * clean-up run when the page is left. Any earlier panel is wiped first.
 */
export function showTokenPanel(host, minted, onLeave) {
  removeTokenPanel(host.ownerDocument);
  const { key } = minted;
  const field = oneTimeField({
    id: 'token', label: 'Your new API key', value: minted.token, copyId: 'copy',
    statusId: 'copy-status', multiline: true,
  });
  delete minted.token;
  const done = h('button', { type: 'button', class: 'secondary', text: 'Done, I copied it' });
  const panel = h('section', { id: 'token-panel', class: 'panel token-panel',
    'aria-labelledby': 'token-panel-title' },
  h('h2', { id: 'token-panel-title', text: `Key ${key.name} created` }),
  defList([
    ['Name', key.name],
    ['Id', h('code', { text: key.id })],
    ['Expires', formatTime(key.expires_at)],
    ['Scopes', (key.scopes || []).join(', ') || '—'],
  ]),
  field.node,
  h('p', { class: 'warning' }, 'Copy it now — it won\'t be shown again.'),
  h('div', { class: 'actions' }, done));
  const wipe = () => {
    field.wipe();
    panel.remove();
  };
  panel.wipe = wipe;
  done.addEventListener('click', wipe);
  onLeave(wipe);
  host.prepend(panel);
  panel.querySelector('#token').focus();
  return panel;
}

/** Empties and removes the token panel, if one is shown. */
export function removeTokenPanel(doc = document) {
  const panel = doc.getElementById('token-panel');
  if (!panel) return;
  if (typeof panel.wipe === 'function') panel.wipe();
  else panel.remove();
}
