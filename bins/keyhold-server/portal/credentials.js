// The "Update Credentials" form of a connection: type a new password for a slot that is
// not active, Test it (stage it, then have the target try it), and Save it once the test
// passed. The password leaves its field as soon as Test reads it; Save stays disabled
// until the last test of this slot passed, and again as soon as the password changes.

import { api, seg } from '/portal/api.js';
import { h, field, busy } from '/portal/dom.js';

const SLOTS = ['primary', 'secondary'];

/** "Passed: <passedText>" or "Failed: <failure> <detail>" for a test or rotation outcome. */
export function verdictText(outcome, passedText) {
  if (outcome.passed) return `Passed: ${passedText}`;
  return `Failed: ${[outcome.failure, outcome.detail].filter(Boolean).join(' ')}`.trim();
}

/**
 * The form. `connection()` gives the connection as last read; `changed(conn)` redraws it;
 * `message(text)` and `error(err)` report. Returns { node, open }.
 */
export function credentialsForm({ connection, changed, message, error }) {
  const slot = h('select', { id: 'cred-slot', name: 'slot' });
  const password = h('input', { id: 'cred-password', type: 'password', autocomplete: 'off',
    spellcheck: 'false' });
  const result = h('p', { id: 'test-result', class: 'verdict', 'aria-live': 'polite', hidden: true });
  const ack = h('input', { type: 'checkbox', id: 'cred-ack' });
  const ackBox = h('div', { class: 'check', hidden: true }, ack,
    h('label', { for: 'cred-ack', text: 'Save without a test: keyhold cannot reach a generic '
      + 'connection\'s target, I checked this credential myself' }));
  const test = h('button', { type: 'button', id: 'test', text: 'Test' });
  const save = h('button', { type: 'button', id: 'save', class: 'primary', text: 'Save', disabled: true });
  const cancel = h('button', { type: 'button', id: 'cancel-credentials', class: 'secondary', text: 'Cancel' });
  const node = h('form', { id: 'credentials-form', class: 'subcard', hidden: true, novalidate: true,
    'aria-labelledby': 'credentials-title' },
  h('h3', { id: 'credentials-title', text: 'Update credentials' }),
  h('p', { class: 'hint', text: 'Stage a credential you made into a slot that is not active. '
    + 'It must pass a test at the target before it can be saved; saving makes it active, and '
    + 'the credential that was active serves on as the standby for the grace period.' }),
  field('Slot', slot),
  field('New password', password, 'Test stages it, then logs in with it. Leave it empty to '
    + 'test again what the slot holds.'),
  result, ackBox,
  h('div', { class: 'actions' }, test, save, cancel));

  // What this form knows about the selected slot: staged here, and passed its last test.
  let staged = null;
  let passed = null;

  const refreshSave = () => {
    const s = slot.value;
    const untestedOk = connection().kind === 'generic' && ack.checked && staged === s;
    save.disabled = !(passed === s || untestedOk);
  };
  const forget = () => {
    passed = null;
    result.hidden = true;
    result.textContent = '';
    refreshSave();
  };
  const reset = () => {
    password.value = '';
    ack.checked = false;
    ackBox.hidden = true;
    staged = null;
    forget();
  };
  const close = () => {
    reset();
    node.hidden = true;
  };

  slot.addEventListener('change', forget);
  password.addEventListener('input', () => {
    passed = null;
    refreshSave();
  });
  ack.addEventListener('change', refreshSave);
  node.addEventListener('submit', (event) => event.preventDefault());
  cancel.addEventListener('click', close);

  test.addEventListener('click', () => busy(test, 'Testing…', async () => {
    error('');
    const s = slot.value;
    const secret = password.value;
    password.value = ''; // read once; the field never keeps it
    passed = null;
    refreshSave();
    const base = `/v1/connections/${seg(connection().name)}/slots/${seg(s)}`;
    try {
      if (secret) {
        changed(await api('PUT', `${base}/credential`, { password: secret }));
        staged = s;
      }
      const outcome = await api('POST', `${base}/test`);
      changed(outcome.connection);
      showResult(outcome.passed, verdictText(outcome, 'the target accepted the credential. '
        + 'You can save it now.'));
      if (outcome.passed) passed = s;
    } catch (err) {
      if (err.code === 'connection_untestable') {
        showResult(false, 'Failed: untestable (keyhold cannot reach a generic connection\'s target)');
        ackBox.hidden = false;
      } else {
        result.hidden = true;
        error(err);
      }
    }
    refreshSave();
  }));

  save.addEventListener('click', async () => {
    await busy(save, 'Saving…', saveSlot);
    refreshSave(); // busy() re-enables the button; the state decides
  });

  async function saveSlot() {
    error('');
    const s = slot.value;
    const body = connection().kind === 'generic' && ack.checked ? { acknowledge_untested: true } : {};
    try {
      const conn = await api('POST',
        `/v1/connections/${seg(connection().name)}/slots/${seg(s)}/save`, body);
      close();
      changed(conn);
      message(`Saved: slot ${s} is active now.`);
    } catch (err) {
      error(err);
    }
  }

  function showResult(ok, text) {
    result.textContent = text;
    result.className = `verdict ${ok ? 'pass' : 'fail'}`;
    result.hidden = false;
  }

  /** Opens the form on the slot that is not active (either, if none is). */
  function open() {
    reset();
    const conn = connection();
    const choices = SLOTS.filter((s) => s !== conn.active);
    slot.replaceChildren(...choices.map((s) => h('option', {
      value: s, text: s,
    })));
    slot.value = choices[0];
    node.hidden = false;
    password.focus();
  }

  return { node, open };
}
