// API Keys (`#/api-keys`): mint a key. Its token is shown once, in the token panel, and
// wiped when the page is left.

import { api } from '/portal/api.js';
import { PRESETS, SCOPES } from '/portal/catalog.js';
import { h, field, messageLine, say, pageHeading, busy } from '/portal/dom.js';
import { showTokenPanel, removeTokenPanel } from '/portal/secret.js';

const DEFAULT_PRESET = '8h';

export async function render(view, ctx) {
  const name = h('input', { id: 'key-name', name: 'name', type: 'text', required: true,
    autocomplete: 'off', spellcheck: 'false', maxlength: '64',
    'data-focus': true });
  const generate = h('button', { type: 'submit', id: 'generate', class: 'primary', text: 'Generate JWT' });
  const error = messageLine('mint-error');
  const panelHost = h('div', { class: 'panel-host' });

  const form = h('form', { id: 'mint-form', class: 'card', novalidate: true },
    field('Name', name, 'Lowercase letters, digits, ".", "_" and "-"; unique in the workspace.'),
    presetFieldset(),
    scopeFieldset(),
    error,
    h('div', { class: 'actions' }, generate));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(generate, 'Generating…', () => mint(form, { error, panelHost }, ctx));
  });

  view.append(
    pageHeading('API Keys', 'Mint an API key (a signed JWT) for a script, a service or yourself.'),
    panelHost,
    form,
  );
}

/** One radio per expiry preset, `8h` checked. */
function presetFieldset() {
  return h('fieldset', { class: 'choices' }, h('legend', { text: 'Expiration' }),
    PRESETS.map((p) => {
      const id = `preset-${p.value}`;
      return h('div', { class: 'choice' },
        h('input', { type: 'radio', name: 'preset', id, value: p.value,
          checked: p.value === DEFAULT_PRESET }),
        h('label', { for: id, text: `${p.label} — ${p.goodFor}` }));
    }));
}

/** One checkbox per scope, none checked. */
function scopeFieldset() {
  return h('fieldset', { class: 'choices scopes' }, h('legend', { text: 'Scopes (optional)' }),
    h('p', { class: 'hint', text: 'No scope selected: the key gets your own access.' }),
    h('div', { class: 'scope-grid' }, SCOPES.map((scope) => {
      const id = `scope-${scope.replace(/:/g, '-')}`;
      return h('div', { class: 'choice' },
        h('input', { type: 'checkbox', name: 'scope', id, value: scope }),
        h('label', { for: id }, h('code', { text: scope })));
    })));
}

/** Mints the key the form describes and shows its token once. */
async function mint(form, { error, panelHost }, ctx) {
  say(error, '');
  const data = new FormData(form);
  const body = {
    name: String(data.get('name') || '').trim(),
    expires: String(data.get('preset') || DEFAULT_PRESET),
  };
  const scopes = data.getAll('scope').map(String);
  if (scopes.length) body.scopes = scopes;
  if (!body.name) {
    say(error, 'Give the key a name.');
    form.querySelector('#key-name').focus();
    return;
  }
  removeTokenPanel();
  try {
    const minted = await api('POST', '/v1/keys', body);
    if (!ctx.isCurrent()) return; // left the page meanwhile: show the token nowhere
    form.reset();
    showTokenPanel(panelHost, minted, ctx.onLeave);
  } catch (err) {
    say(error, err);
  }
}
