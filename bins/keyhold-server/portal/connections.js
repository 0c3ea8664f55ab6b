// Connections (`#/connections`): the workspace's connections and, for the one selected,
// its target, its two slots, rotation and the credentials form (credentials.js). No
// credential is ever read here: the API hands none out to this page.

import { api, seg } from '/portal/api.js';
import {
  h, messageLine, say, pageHeading, defList, formatTime, showLoading, busy,
} from '/portal/dom.js';
import { credentialsForm, verdictText } from '/portal/credentials.js';

const SLOTS = ['primary', 'secondary'];

export async function render(view) {
  const message = messageLine('connections-message', 'status');
  const error = messageLine('connections-error');
  const list = h('ul', { id: 'connections-list', class: 'conn-list', 'aria-label': 'Connections' });
  const empty = h('p', { class: 'empty', hidden: true },
    'No connections yet. Create one with ', h('code', { text: 'keyhold connections create' }), '.');
  const detail = h('section', { id: 'connection-detail', class: 'card detail', hidden: true,
    'aria-labelledby': 'connection-title' });
  const slot = h('div', { class: 'loading-slot' });
  const page = { view, list, empty, detail, message, error, slot };

  list.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-connection]');
    if (button) select(page, button.dataset.connection);
  });

  view.append(
    pageHeading('Connections',
      'Credentials keyhold keeps for a database or an API, in two slots rotated without downtime.'),
    message, error, slot,
    h('div', { class: 'conn-layout' }, h('div', { class: 'conn-side' }, list, empty), detail),
  );
  await loadList(page);
}

/** Loads the list of connections. */
async function loadList(page) {
  const done = showLoading(page.slot);
  try {
    const { connections } = await api('GET', '/v1/connections');
    page.list.replaceChildren(...connections.map((c) => h('li', {},
      h('button', { type: 'button', class: 'conn-item', dataset: { connection: c.name } },
        h('span', { class: 'conn-name', text: c.name }), ' ',
        h('span', { class: 'kind', text: c.kind })))));
    page.empty.hidden = connections.length > 0;
  } catch (err) {
    say(page.error, err);
  } finally {
    done();
  }
}

/** Shows connection `name`, read afresh. */
async function select(page, name) {
  say(page.message, '');
  say(page.error, '');
  for (const b of page.list.querySelectorAll('button[data-connection]')) {
    if (b.dataset.connection === name) b.setAttribute('aria-current', 'true');
    else b.removeAttribute('aria-current');
  }
  const done = showLoading(page.slot);
  try {
    const conn = await api('GET', `/v1/connections/${seg(name)}`);
    showDetail(page, conn);
  } catch (err) {
    say(page.error, err);
  } finally {
    done();
  }
}

/** Builds the detail panel of `conn`: facts and slots (redrawn on every change), the
 * actions, the rotation verdict and the credentials form (kept across redraws). */
function showDetail(page, initial) {
  let conn = initial;
  const facts = h('div', { class: 'facts-host' });
  const slots = h('div', { class: 'slots' });
  const rotateResult = h('p', { id: 'rotate-result', class: 'verdict', 'aria-live': 'polite', hidden: true });
  const update = h('button', { type: 'button', id: 'update-credentials', text: 'Update Credentials',
    'aria-controls': 'credentials-form' });
  const rotate = h('button', { type: 'button', id: 'rotate', class: 'primary', text: 'Rotate now' });

  const redraw = (next) => {
    conn = next;
    facts.replaceChildren(...factsOf(conn));
    slots.replaceChildren(...SLOTS.map((s) => slotCard(s, conn.slots[s])));
  };
  const form = credentialsForm({
    connection: () => conn,
    changed: redraw,
    message: (text) => say(page.message, text),
    error: (err) => say(page.error, err),
  });

  update.addEventListener('click', () => {
    say(page.message, '');
    say(page.error, '');
    form.open();
  });
  rotate.addEventListener('click', () => busy(rotate, 'Rotating…', async () => {
    say(page.message, '');
    say(page.error, '');
    rotateResult.hidden = true;
    try {
      const outcome = await api('POST', `/v1/connections/${seg(conn.name)}/rotate`, {});
      redraw(outcome.connection);
      showVerdict(rotateResult, outcome);
      say(page.message, outcome.passed
        ? `Rotated: slot ${outcome.connection.active} is active now; the other one is the standby.`
        : 'The new credential failed its test: the active credential keeps serving.');
    } catch (err) {
      say(page.error, err);
    }
  }));

  redraw(conn);
  page.detail.replaceChildren(
    h('h2', { id: 'connection-title' }, h('span', { class: 'detail-name', text: conn.name }), ' ',
      h('span', { class: 'kind', text: conn.kind })),
    facts,
    h('h3', { class: 'section-title', text: 'Slots' }),
    slots,
    h('div', { class: 'actions' }, update, rotate),
    rotateResult,
    form.node,
  );
  page.detail.hidden = false;
}

/** Writes a test or rotation outcome into `el` ("Passed…" or "Failed: …"). */
function showVerdict(el, outcome) {
  const active = outcome.connection && outcome.connection.active;
  el.textContent = verdictText(outcome, `slot ${active} is active now.`);
  el.className = `verdict ${outcome.passed ? 'pass' : 'fail'}`;
  el.hidden = false;
}

/** The connection's target and schedule, as a definition list. */
function factsOf(conn) {
  const pairs = [['Kind', conn.kind], ['Target', targetSummary(conn)]];
  if (conn.target.admin_user) pairs.push(['Admin login', conn.target.admin_user]);
  pairs.push(
    ['Active slot', conn.active || 'none yet'],
    ['Grace period', duration(conn.grace_secs)],
    ['Rotation', conn.rotate_every_secs
      ? `every ${duration(conn.rotate_every_secs)}, next due ${formatTime(conn.next_rotation_due)}`
      : 'on demand'],
    ['Last used', formatTime(conn.last_used_at, 'never')],
    ['Created', `${formatTime(conn.created_at)} by ${conn.created_by}`],
  );
  return [defList(pairs)];
}

/** Where the credentials are for (the target's settings are never secret). */
function targetSummary(conn) {
  const t = conn.target || {};
  if (conn.kind === 'postgres') {
    const port = t.port ? `:${t.port}` : '';
    return `PostgreSQL ${t.host || '?'}${port}/${t.database || '?'}`;
  }
  if (conn.kind === 'http') return `${t.url || '?'} (${t.scheme || 'bearer'})`;
  return 'Kept by keyhold only (a generic credential cannot be tested or regenerated).';
}

/** One slot's card; class `active` when its state is active. */
function slotCard(name, slot) {
  const active = slot.state === 'active';
  const pairs = [
    ['State', h('span', { class: 'slot-state', text: slot.state })],
    ['Version', h('span', { class: 'slot-version', text: slot.version ?? '—' })],
    ['Tested', h('span', { class: 'slot-tested-at', text: formatTime(slot.tested_at, 'never') })],
    ['Login', slot.user || '—'],
  ];
  if (slot.state === 'standby') pairs.push(['Served until', formatTime(slot.standby_until)]);
  if (slot.failure) pairs.push(['Failure', slot.failure]);
  pairs.push(['Changed', formatTime(slot.updated_at, 'never')]);
  return h('article', { id: `slot-${name}`, class: active ? 'slot active' : 'slot',
    'aria-labelledby': `slot-${name}-title` },
  h('h4', { id: `slot-${name}-title` }, name,
    active ? h('span', { class: 'badge', text: 'Active' }) : null),
  defList(pairs));
}

/** Seconds in words: "10 minutes", "30 days", "1 hour 30 minutes". */
function duration(secs) {
  const units = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  const parts = [];
  let left = Number(secs) || 0;
  for (const [unit, size] of units) {
    const n = Math.floor(left / size);
    if (n > 0 && parts.length < 2) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
    left -= n * size;
  }
  return parts.join(' ') || '0 seconds';
}
