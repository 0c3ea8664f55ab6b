// Members (`#/members`): the people of the workspace, their roles and states, and
// inviting someone with a one-time enrolment code (shown once, wiped on leaving).
// Owners manage everyone; admins everyone but owners (and make no owner). The server
// checks all of it again; the page only leaves out what would be refused.

import { api, seg } from '/portal/api.js';
import { session, canManageMembers } from '/portal/session.js';
import {
  h, field, messageLine, say, pageHeading, dataTable, formatTime, showLoading, busy,
} from '/portal/dom.js';
import { confirmDialog, checkbox } from '/portal/dialog.js';
import { oneTimeField } from '/portal/secret.js';

const ROLES = ['owner', 'admin', 'developer', 'viewer'];
const COLUMNS = ['Email', 'Name', 'Role', 'State', 'Second factor', 'Last sign-in', ''];

export async function render(view, ctx) {
  const manage = canManageMembers();
  const message = messageLine('members-message', 'status');
  const error = messageLine('members-error');
  const { wrap, tbody } = dataTable('members-table', 'Members of this workspace', COLUMNS);
  const slot = h('div', { class: 'loading-slot' });
  const page = { view, tbody, message, error, slot, manage, members: new Map() };

  tbody.addEventListener('change', (event) => {
    if (event.target.matches('select.role')) changeRole(page, event.target);
  });
  tbody.addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (!button) return;
    const email = button.closest('tr').dataset.email;
    if (button.classList.contains('remove')) remove(page, email);
    else if (button.classList.contains('disable')) setState(page, email, 'disabled');
    else if (button.classList.contains('enable')) setState(page, email, 'active');
  });

  view.append(
    pageHeading('Members', `The people of workspace ${session().workspace} and their roles.`),
    message, error,
    manage ? inviteSection(page, ctx) : h('p', { class: 'hint',
      text: 'Only owners and admins can invite people or change their roles.' }),
    h('h2', { text: 'People' }),
    slot, wrap,
  );
  await load(page);
}

/** The roles the signed-in person may give (an admin makes no owner). */
function assignable() {
  return session().role === 'owner' ? ROLES : ROLES.filter((r) => r !== 'owner');
}

/** Whether the signed-in person may change `member` (an admin leaves owners alone). */
function mayChange(page, member) {
  return page.manage && (session().role === 'owner' || member.role !== 'owner');
}

/** (Re)loads the list of members. */
async function load(page) {
  const done = showLoading(page.slot);
  try {
    const { members } = await api('GET', '/v1/members');
    page.members = new Map(members.map((m) => [m.email, m]));
    page.tbody.replaceChildren(...members.map((m) => memberRow(page, m)));
  } catch (err) {
    say(page.error, err);
  } finally {
    done();
  }
}

/** One member's row. */
function memberRow(page, m) {
  const editable = mayChange(page, m);
  const roles = assignable().includes(m.role) ? assignable() : [m.role, ...assignable()];
  const select = h('select', { class: 'role', 'aria-label': `Role of ${m.email}`,
    disabled: !editable, dataset: { current: m.role } },
  roles.map((r) => h('option', { value: r, text: r, selected: r === m.role })));
  select.value = m.role;
  const actions = editable ? [
    m.state === 'disabled'
      ? h('button', { type: 'button', class: 'enable', text: 'Enable' })
      : h('button', { type: 'button', class: 'disable', text: 'Disable' }),
    h('button', { type: 'button', class: 'remove danger-quiet', text: 'Remove' }),
  ] : [];
  return h('tr', { dataset: { email: m.email } },
    h('th', { scope: 'row', text: m.email }),
    h('td', { text: m.display_name }),
    h('td', {}, select),
    h('td', {}, h('span', { class: `state state-${m.state}`, text: m.state })),
    h('td', { text: m.has_totp ? 'TOTP' : 'none' }),
    h('td', { class: 'nowrap', text: formatTime(m.last_sign_in, 'never') }),
    h('td', { class: 'row-actions' }, actions));
}

/** Redraws one member's row from the server's answer. */
function replaceRow(page, member) {
  page.members.set(member.email, member);
  const old = [...page.tbody.rows].find((r) => r.dataset.email === member.email);
  if (old) old.replaceWith(memberRow(page, member));
}

/** PATCHes one member; `what` says the change in words. */
async function patch(page, email, body, what) {
  say(page.message, '');
  say(page.error, '');
  try {
    replaceRow(page, await api('PATCH', `/v1/members/${seg(email)}`, body));
    say(page.message, what);
    return true;
  } catch (err) {
    say(page.error, err);
    return false;
  }
}

async function changeRole(page, select) {
  const email = select.closest('tr').dataset.email;
  const role = select.value;
  select.disabled = true;
  const ok = await patch(page, email, { role }, `${email} is now ${role}.`);
  if (!ok) {
    select.value = select.dataset.current; // put back what is true
    select.disabled = false;
  }
}

function setState(page, email, state) {
  return patch(page, email, { state }, state === 'disabled'
    ? `${email} is disabled: their sessions have ended.` : `${email} is active again.`);
}

/** Removes a member after the confirmation (optionally revoking the keys they created). */
async function remove(page, email) {
  say(page.message, '');
  say(page.error, '');
  const revoke = checkbox('remove-revoke-keys', 'Also revoke their keys');
  const yes = await confirmDialog(page.view, {
    title: 'Remove member',
    text: `Remove ${email} from this workspace? Their sessions end at once.`,
    yes: 'Remove',
    extra: [revoke.node],
  });
  if (!yes) return;
  const query = revoke.input.checked ? '?revoke_keys=true' : '';
  try {
    await api('DELETE', `/v1/members/${seg(email)}${query}`);
    say(page.message, `Removed ${email}${query ? ' and revoked their keys' : ''}.`);
  } catch (err) {
    say(page.error, err);
  }
  await load(page);
}

/** The invitation form, and where its one-time enrolment code appears. */
function inviteSection(page, ctx) {
  const email = h('input', { id: 'invite-email', type: 'email', autocomplete: 'off',
    spellcheck: 'false', required: true });
  const role = h('select', { id: 'invite-role' },
    assignable().map((r) => h('option', { value: r, text: r, selected: r === 'developer' })));
  const invite = h('button', { type: 'submit', id: 'invite', class: 'primary', text: 'Invite' });
  const result = h('div', { id: 'invite-result', class: 'panel-host' });
  const form = h('form', { id: 'invite-form', class: 'card inline-form', novalidate: true,
    'aria-labelledby': 'invite-title' },
  h('h2', { id: 'invite-title', text: 'Invite someone' }),
  h('div', { class: 'row wrap' }, field('Email', email), field('Role', role),
    h('div', { class: 'actions' }, invite)));
  let wipe = () => {};
  ctx.onLeave(() => wipe());

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(invite, 'Inviting…', async () => {
      say(page.message, '');
      say(page.error, '');
      wipe();
      if (!email.value.trim()) {
        say(page.error, 'Enter the email of the person to invite.');
        email.focus();
        return;
      }
      try {
        const added = await api('POST', '/v1/members', { email: email.value.trim(), role: role.value });
        if (!ctx.isCurrent()) return;
        wipe = showInvitation(result, added);
        form.reset();
        await load(page);
      } catch (err) {
        say(page.error, err);
      }
    });
  });
  return h('section', { class: 'invite' }, form, result);
}

/** Shows the enrolment code once (or says none was needed); returns the wipe function. */
function showInvitation(host, added) {
  const who = added.member.email;
  if (!added.enrolment) {
    host.replaceChildren(h('p', { class: 'message notice', role: 'status',
      text: `${who} already has a password and is now an active member.` }));
    return () => host.replaceChildren();
  }
  const code = oneTimeField({ id: 'invite-code', label: `Enrolment code for ${who}`,
    value: added.enrolment.code, copyId: 'invite-copy', statusId: 'invite-copy-status' });
  delete added.enrolment.code;
  host.replaceChildren(h('section', { class: 'panel token-panel', 'aria-label': 'Enrolment code' },
    code.node,
    h('p', { text: `Give this code to ${who}: they redeem it on the "Set your password" page, `
      + `until ${formatTime(added.enrolment.expires_at)}.` }),
    h('p', { class: 'warning' }, 'Copy it now — it won\'t be shown again.')));
  return () => {
    code.wipe();
    host.replaceChildren();
  };
}
