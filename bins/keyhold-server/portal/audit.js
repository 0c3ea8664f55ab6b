// Audit (`#/audit`): the workspace's audit records, newest first, filtered by action,
// key, actor and time; and the state of the store's hash chain, which only a store
// administrator may check.

import { api } from '/portal/api.js';
import {
  h, field, messageLine, say, pageHeading, dataTable, formatMs, showLoading, busy,
} from '/portal/dom.js';

const LIMIT = 100; // the most recent records shown
const COLUMNS = ['Time', 'Action', 'Actor', 'Key', 'Surface', 'Source', 'Outcome/details'];

export async function render(view) {
  const error = messageLine('audit-error');
  const chain = h('p', { id: 'chain-status', class: 'chain', role: 'status',
    text: 'Checking the audit chain…' });
  const { wrap, tbody } = dataTable('audit-table', 'Audit records, newest first', COLUMNS);
  const empty = h('p', { class: 'empty', hidden: true, text: 'No records match these filters.' });
  const count = h('p', { class: 'hint', 'aria-live': 'polite' });
  const slot = h('div', { class: 'loading-slot' });
  const filters = filterForm();
  const page = { tbody, empty, error, count, slot, form: filters.form };

  filters.form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(filters.apply, 'Applying…', () => load(page));
  });

  view.append(
    pageHeading('Audit', `What happened in this workspace: the ${LIMIT} most recent records `
      + 'that match, newest first.'),
    chain, filters.form, error, slot, count, wrap, empty,
  );
  // The chain check reads the whole store: it runs once per visit, beside the list.
  await Promise.all([load(page), checkChain(chain)]);
}

/** The filter form. */
function filterForm() {
  const input = (id, props = {}) => h('input', { id, type: 'text', autocomplete: 'off',
    spellcheck: 'false', ...props });
  const apply = h('button', { type: 'submit', id: 'audit-apply', class: 'primary', text: 'Apply' });
  const form = h('form', { id: 'audit-filters', class: 'card filters', novalidate: true,
    'aria-label': 'Filter the audit records' },
  field('Action', input('f-action', { placeholder: 'key.used' })),
  field('Key', input('f-key', { placeholder: 'key_…' })),
  field('Actor', input('f-actor', { placeholder: 'you@example.com' })),
  field('Since', input('f-since', { type: 'datetime-local' })),
  h('div', { class: 'actions' }, apply));
  return { form, apply };
}

/** The query string for the form's filters (names as AuditQuery reads them). */
function queryOf(form) {
  const value = (id) => form.querySelector(`#${id}`).value.trim();
  const pairs = [];
  const since = value('f-since');
  if (since) {
    const ms = new Date(since).getTime(); // datetime-local is local time
    if (Number.isFinite(ms)) pairs.push(['since_ms', String(ms)]);
  }
  if (value('f-action')) pairs.push(['action', value('f-action')]);
  if (value('f-key')) pairs.push(['key', value('f-key')]);
  if (value('f-actor')) pairs.push(['actor', value('f-actor')]);
  pairs.push(['limit', String(LIMIT)]);
  return pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
}

/** Loads the records the filters select. */
async function load(page) {
  say(page.error, '');
  const done = showLoading(page.slot);
  try {
    const { records } = await api('GET', `/v1/audit?${queryOf(page.form)}`);
    const newest = records.slice().reverse();
    page.tbody.replaceChildren(...newest.map(recordRow));
    page.empty.hidden = newest.length > 0;
    page.count.textContent = newest.length
      ? `${newest.length} record${newest.length === 1 ? '' : 's'}` : '';
  } catch (err) {
    page.tbody.replaceChildren();
    page.count.textContent = '';
    say(page.error, err);
  } finally {
    done();
  }
}

/** One record's row. */
function recordRow(r) {
  const ok = r.outcome === 'success';
  const details = Object.entries(r.details || {}).map(([k, v]) => `${k}: ${v}`);
  if (r.target) details.unshift(`target: ${r.target}`);
  return h('tr', { dataset: { seq: r.seq } },
    h('td', { class: 'nowrap' }, h('time', { datetime: new Date(r.time_ms).toISOString(),
      text: formatMs(r.time_ms) })),
    h('td', {}, h('code', { text: r.action })),
    h('td', { text: r.actor }),
    h('td', {}, r.key_id ? h('code', { text: r.key_id }) : '—'),
    h('td', { text: r.surface }),
    h('td', { text: r.source || '—' }),
    h('td', {},
      h('span', { class: ok ? 'outcome ok' : 'outcome bad', text: r.outcome }),
      details.length ? h('ul', { class: 'details' }, details.map((d) => h('li', { text: d }))) : null));
}

/** Verifies the store's audit chain, which only a store administrator may do. */
async function checkChain(el) {
  const show = (text, cls) => {
    el.textContent = text;
    el.className = `chain ${cls}`;
  };
  try {
    const v = await api('POST', '/v1/audit/verify');
    show(`Chain verified: ${v.rows} events`, 'ok');
    el.title = `Head #${v.head_seq}: ${v.head}`;
  } catch (err) {
    // Refused (403), or a session of another workspace than the store's home one (401):
    // the chain spans the whole store, so only its administrators see its state.
    if (err.status === 403 || (err.status === 401 && err.code === 'workspace_mismatch')) {
      show('Chain status is visible to store administrators.', 'na');
    } else {
      show(`Chain verification failed: ${err.message}`, 'bad');
    }
  }
}
