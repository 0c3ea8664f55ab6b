// Keys (`#/keys`): the workspace's keys (never a token), revoking one, and the danger
// zone's revoke-all, confirmed by typing the workspace's name.

import { api, seg } from '/portal/api.js';
import { session } from '/portal/session.js';
import {
  h, field, messageLine, say, pageHeading, dataTable, formatTime, showLoading,
} from '/portal/dom.js';
import { confirmDialog } from '/portal/dialog.js';

const COLUMNS = ['Name', 'Scopes', 'Created', 'Expires', 'Last used', 'Status', ''];

export async function render(view) {
  const message = messageLine('keys-message', 'status');
  const error = messageLine('keys-error');
  const { wrap, tbody } = dataTable('keys-table', 'API keys of this workspace', COLUMNS);
  const empty = h('p', { class: 'empty', hidden: true,
    text: 'No keys yet. Mint one on the API Keys page.' });
  const slot = h('div', { class: 'loading-slot' });
  const page = { view, tbody, empty, message, error, slot };

  tbody.addEventListener('click', (event) => {
    const button = event.target.closest('button.revoke');
    if (button) revokeOne(page, button.closest('tr'));
  });

  view.append(
    pageHeading('Keys', 'Every API key of this workspace. Tokens are never stored or shown here.'),
    message, error, slot, wrap, empty,
    dangerZone(page),
  );
  await load(page);
}

/** (Re)loads the list into the table. */
async function load(page) {
  const done = showLoading(page.slot);
  try {
    const { keys } = await api('GET', '/v1/keys');
    page.tbody.replaceChildren(...keys.map(keyRow));
    page.empty.hidden = keys.length > 0;
  } catch (err) {
    say(page.error, err);
  } finally {
    done();
  }
}

/** One key's row. */
function keyRow(key) {
  const status = key.status;
  const lastUsed = formatTime(key.last_used_at, 'never');
  const nameId = `key-name-${key.id}`;
  return h('tr', { dataset: { keyId: key.id, keyName: key.name } },
    h('th', { scope: 'row' }, h('span', { class: 'key-name', id: nameId, text: key.name }),
      h('span', { class: 'sub', text: key.id })),
    h('td', {}, (key.scopes || []).length
      ? h('span', { class: 'scopes', text: key.scopes.join(', ') }) : '—'),
    h('td', { class: 'nowrap', text: formatTime(key.created_at) }),
    h('td', { class: 'nowrap', text: formatTime(key.expires_at) }),
    h('td', { class: 'nowrap', text: lastUsed }),
    h('td', {}, h('span', { class: `status status-${status}`, text: status })),
    h('td', { class: 'row-actions' }, status === 'active'
      ? h('button', { type: 'button', class: 'revoke danger-quiet', text: 'Revoke',
        'aria-describedby': nameId })
      : null));
}

/** Revokes one key after the confirmation dialog. */
async function revokeOne(page, row) {
  const { keyId, keyName } = row.dataset;
  say(page.message, '');
  say(page.error, '');
  const yes = await confirmDialog(page.view, {
    title: 'Revoke key',
    text: `Revoke ${keyName}? It stops working immediately.`,
    yes: 'Revoke',
  });
  if (!yes) return;
  try {
    await api('POST', `/v1/keys/${seg(keyId)}/revoke`);
    say(page.message, `Revoked ${keyName}.`);
  } catch (err) {
    say(page.error, err);
  }
  await load(page);
}

/** The danger zone: revoke every key of the workspace. */
function dangerZone(page) {
  const button = h('button', { type: 'button', id: 'revoke-all', class: 'danger', text: 'Revoke all' });
  button.addEventListener('click', () => revokeAll(page));
  return h('section', { class: 'danger-zone', 'aria-labelledby': 'danger-title' },
    h('h2', { id: 'danger-title', text: 'Danger zone' }),
    h('p', { text: 'Revoke every key of this workspace at once, for example after a leak. '
      + 'Keys minted afterwards work.' }),
    button);
}

/** Opens the revoke-all dialog; Go stays disabled until the workspace's name is typed. */
function revokeAll(page) {
  const workspace = session().workspaceName;
  say(page.message, '');
  say(page.error, '');
  const input = h('input', { id: 'revoke-all-confirm', type: 'text', autocomplete: 'off',
    spellcheck: 'false' });
  const go = h('button', { type: 'button', id: 'revoke-all-go', class: 'danger',
    text: 'Revoke all keys', disabled: true });
  const cancel = h('button', { type: 'button', id: 'revoke-all-cancel', text: 'Cancel' });
  const dialog = h('dialog', { id: 'revoke-all-dialog', 'aria-labelledby': 'revoke-all-title' },
    h('h2', { id: 'revoke-all-title', text: 'Revoke all keys' }),
    h('p', { text: `Every key of workspace ${workspace} stops working immediately: the keys of `
      + 'scripts, services and people alike. This cannot be undone; keys minted afterwards work.' }),
    field(`Type the workspace name to confirm: ${workspace}`, input),
    h('div', { class: 'actions' }, cancel, go));

  const close = () => {
    input.value = '';
    if (dialog.open) dialog.close();
    dialog.remove();
  };
  input.addEventListener('input', () => { go.disabled = input.value !== workspace; });
  cancel.addEventListener('click', close);
  dialog.addEventListener('cancel', (event) => {
    event.preventDefault();
    close();
  });
  go.addEventListener('click', async () => {
    if (input.value !== workspace) return;
    go.disabled = true;
    try {
      const result = await api('POST', '/v1/keys/revoke-all');
      const n = result.keys_revoked;
      say(page.message, `Revoked all keys of ${workspace}: `
        + `${n} active key${n === 1 ? ' was' : 's were'} revoked.`);
    } catch (err) {
      say(page.error, err);
    }
    close();
    await load(page);
  });

  page.view.querySelector('#revoke-all-dialog')?.remove();
  page.view.append(dialog);
  dialog.showModal();
  input.focus();
}
