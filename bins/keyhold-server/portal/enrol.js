// Set your password (`#/enrol`): redeem a one-time enrolment code. Both passwords are
// cleared after every attempt, the code once it is redeemed.

import { api } from '/portal/api.js';
import { h, field, messageLine, say, pageHeading, busy } from '/portal/dom.js';

export async function render(view) {
  const code = h('input', { id: 'enrol-code', type: 'password', autocomplete: 'off',
    required: true, spellcheck: 'false', 'data-focus': true });
  const password = h('input', { id: 'enrol-password', type: 'password',
    autocomplete: 'new-password', required: true, minlength: '12' });
  const repeat = h('input', { id: 'enrol-password2', type: 'password',
    autocomplete: 'new-password', required: true });
  const submit = h('button', { type: 'submit', id: 'enrol-submit', class: 'primary', text: 'Set password' });
  const error = messageLine('enrol-error');
  const done = h('p', { id: 'enrol-done', class: 'message notice', role: 'status', hidden: true },
    'Your password is set. ', h('a', { href: '#/sign-in', text: 'Sign in.' }));

  const form = h('form', { id: 'enrol-form', class: 'card narrow', novalidate: true },
    field('Enrolment code', code, 'The one-time code an owner or admin gave you (valid 24 hours).'),
    field('New password', password,
      'At least 12 characters; not a common password, a repeat or a sequence, '
      + 'and not containing your email\'s name.'),
    field('Repeat password', repeat),
    error,
    h('div', { class: 'actions' }, submit));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, 'Setting…', () => redeem({ code, password, repeat, error, done, form }));
  });

  view.append(
    pageHeading('Set your password', 'Redeem the enrolment code you were given to set your password.'),
    form,
    done,
    h('p', { class: 'aside' }, h('a', { href: '#/sign-in', text: 'Back to sign in' })),
  );
}

/** One redemption attempt: the passwords must match before anything is sent. */
async function redeem({ code, password, repeat, error, done, form }) {
  say(error, '');
  if (!code.value.trim() || !password.value) {
    say(error, 'Enter the enrolment code and a new password.');
    (code.value.trim() ? password : code).focus();
    return;
  }
  const body = { code: code.value.trim(), password: password.value };
  const matches = password.value === repeat.value;
  password.value = '';
  repeat.value = '';
  if (!matches) {
    say(error, 'The passwords do not match. Type the same password twice.');
    password.focus();
    return;
  }
  try {
    await api('POST', '/v1/enrolments', body, { csrf: false, sessionCheck: false });
    code.value = '';
    form.hidden = true;
    done.hidden = false;
    done.querySelector('a').focus();
  } catch (err) {
    say(error, err);
    password.focus();
  } finally {
    body.code = '';
    body.password = '';
  }
}
