// Sign in (`#/sign-in`): email, password, a TOTP code if the person has one, and the
// workspace. The password (and code) are cleared after every attempt; the session comes
// back as an HttpOnly cookie, the CSRF token in the body (kept by session.js only).

import { api } from '/portal/api.js';
import { setSession, takeSwitch, takeNotice, session } from '/portal/session.js';
import { h, append, field, messageLine, say, pageHeading, busy } from '/portal/dom.js';

export async function render(view, ctx) {
  const pending = takeSwitch();
  const notice = takeNotice();
  const email = h('input', { id: 'email', name: 'email', type: 'email', autocomplete: 'username',
    required: true, spellcheck: 'false' });
  const password = h('input', { id: 'password', name: 'password', type: 'password',
    autocomplete: 'current-password', required: true });
  const totp = h('input', { id: 'totp', name: 'totp', type: 'text', inputmode: 'numeric',
    autocomplete: 'one-time-code', pattern: '[0-9 ]*', maxlength: '10' });
  const workspace = h('input', { id: 'sign-in-workspace', name: 'workspace', type: 'text',
    autocomplete: 'off', spellcheck: 'false' });
  const submit = h('button', { type: 'submit', id: 'sign-in-submit', class: 'primary', text: 'Sign in' });
  const error = messageLine('sign-in-error');

  if (pending) {
    email.value = pending.email;
    workspace.value = pending.workspace;
    password.setAttribute('data-focus', '');
  } else {
    email.setAttribute('data-focus', '');
  }

  const form = h('form', { id: 'sign-in-form', class: 'card narrow', novalidate: true },
    field('Email', email),
    field('Password', password),
    field('TOTP code (if you use one)', totp),
    field('Workspace (optional)', workspace,
      'The workspace id or name, if you belong to several.'),
    error,
    h('div', { class: 'actions' }, submit));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, 'Signing in…', () => signIn({ email, password, totp, workspace, error }, ctx));
  });

  append(view, [
    pageHeading('Sign in', 'Sign in to manage your workspace\'s keys and connections.'),
    notice ? h('p', { class: 'message notice', role: 'status', text: notice }) : null,
    pending ? switchHint(pending.workspace) : null,
    form,
    h('p', { class: 'aside' }, h('a', { id: 'enrol-link', href: '#/enrol', text: 'Have an enrolment code?' })),
  ]);
}

/** Why the form is prefilled after picking another workspace, and a way back. */
function switchHint(workspace) {
  const current = session();
  return h('div', { class: 'message notice', id: 'sign-in-hint', role: 'status' },
    h('p', { text: `To switch to workspace ${workspace}, sign in again: each workspace has `
      + 'its own sign-in policy (a second factor may be required).' }),
    current
      ? h('p', {}, h('a', { href: '#/api-keys', text: `Stay in ${current.workspace}` }))
      : null);
}

/** One sign-in attempt. */
async function signIn(fields, ctx) {
  const { email, password, totp, workspace, error } = fields;
  say(error, '');
  if (!email.value.trim() || !password.value) {
    say(error, 'Enter your email and password.');
    (email.value.trim() ? password : email).focus();
    return;
  }
  const body = { email: email.value.trim(), password: password.value };
  const code = totp.value.replace(/\s+/g, '');
  if (code) body.totp = code;
  if (workspace.value.trim()) body.workspace = workspace.value.trim();
  // The secrets leave the fields now, whatever the answer.
  password.value = '';
  totp.value = '';
  try {
    const answer = await api('POST', '/v1/sessions', body, { csrf: false, sessionCheck: false });
    body.password = '';
    await adopt(answer);
    ctx.go('api-keys');
  } catch (err) {
    body.password = '';
    say(error, err);
    password.focus();
  }
}

/** Keeps the new session; fetches the person's workspaces when the answer lacks them. */
async function adopt(answer) {
  if (!Array.isArray(answer.workspaces)) {
    try {
      const full = await api('GET', '/v1/sessions/current', undefined, { sessionCheck: false });
      if (Array.isArray(full.workspaces)) answer.workspaces = full.workspaces;
      delete full.csrf;
    } catch {
      // The list of workspaces is a convenience: the current one is known.
    }
  }
  setSession(answer);
}
