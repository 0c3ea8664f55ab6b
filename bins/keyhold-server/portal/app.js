// The portal's shell: the session probe on load, the hash router, the top bar, sign-out.
// Each page is a module exporting `render(view, ctx)`; the router gives it a fresh
// container inside <main id="main">, so a page still loading when the person moves on
// writes only into a detached node. `data-page` is set on <main> once a page has drawn
// its data, and removed as soon as navigation starts (the browser tests wait for it).

import { api, onSessionLost } from '/portal/api.js';
import {
  session, setSession, clearSession, canManageMembers, requestSwitch, setNotice,
} from '/portal/session.js';
import { h, errorText } from '/portal/dom.js';
import * as signin from '/portal/signin.js';
import * as enrol from '/portal/enrol.js';
import * as apikeys from '/portal/apikeys.js';
import * as keys from '/portal/keys.js';
import * as connections from '/portal/connections.js';
import * as audit from '/portal/audit.js';
import * as members from '/portal/members.js';
import * as azi from '/portal/azi.js';

// Route name → page. `open` pages need no session (and hide the top bar).
const PAGES = {
  'sign-in': { render: signin.render, open: true },
  enrol: { render: enrol.render, open: true },
  'api-keys': { render: apikeys.render },
  keys: { render: keys.render },
  connections: { render: connections.render },
  audit: { render: audit.render },
  members: { render: members.render },
  azi: { render: azi.render },
};
const HOME = 'api-keys';

const main = document.getElementById('main');
let generation = 0; // bumped by every navigation; stale renders compare against it
let leaveHooks = []; // clean-ups of the page shown (wiping one-time secrets)

/** The route name in the URL's hash (`#/keys` → `keys`), or ''. */
function routeName() {
  const match = /^#\/([a-z-]+)$/.exec(window.location.hash);
  return match ? match[1] : '';
}

/** Navigates to the page `name` (re-rendering it if it is the one shown). */
export function go(name) {
  const target = `#/${name}`;
  if (window.location.hash === target) route();
  else window.location.hash = target;
}

/** Replaces the current history entry with page `name` and shows it. */
function redirect(name) {
  window.history.replaceState(null, '', `#/${name}`);
  route();
}

/** Runs and forgets the clean-ups of the page being left. */
function leave() {
  const hooks = leaveHooks;
  leaveHooks = [];
  for (const hook of hooks) {
    try {
      hook();
    } catch {
      // A clean-up that fails must not stop the others.
    }
  }
}

/** Shows the page the hash names, after the checks every navigation makes. */
async function route() {
  const gen = ++generation;
  main.removeAttribute('data-page');
  leave();
  closeMenu(false);
  const name = routeName();
  const signedIn = session() !== null;
  if (!Object.hasOwn(PAGES, name)) return redirect(signedIn ? HOME : 'sign-in');
  if (!PAGES[name].open && !signedIn) return redirect('sign-in');

  updateTopBar(name);
  const view = h('div', { class: 'page' });
  main.replaceChildren(view);
  const ctx = {
    go,
    onLeave: (hook) => leaveHooks.push(hook),
    isCurrent: () => gen === generation,
  };
  try {
    await PAGES[name].render(view, ctx);
  } catch (err) {
    if (gen === generation) {
      view.append(h('p', { class: 'message error', role: 'alert', text: errorText(err) }));
    }
  }
  if (gen !== generation) return undefined;
  main.setAttribute('data-page', name);
  focusPage(view);
  return undefined;
}

/** Moves the focus to the page: its `[data-focus]` field, or its heading. */
function focusPage(view) {
  if (view.contains(document.activeElement) && document.activeElement !== view) return;
  const target = view.querySelector('[data-focus]') || view.querySelector('h1');
  if (target) target.focus({ preventScroll: true });
}

// ---- Top bar ------------------------------------------------------------------------

const topBar = document.getElementById('top-bar');
const menuButton = document.getElementById('menu-apis');
const menuList = document.getElementById('menu-apis-list');
const switcher = document.getElementById('workspace-switcher');

/** Shows the top bar for the signed-in pages, with who, where, and the current page. */
function updateTopBar(name) {
  const s = session();
  topBar.hidden = !s || PAGES[name].open;
  if (topBar.hidden) return;
  document.getElementById('whoami').textContent = s.email;
  const manage = canManageMembers();
  document.getElementById('nav-members-item').hidden = !manage;
  document.getElementById('nav-members').hidden = !manage;
  fillSwitcher(s);
  for (const link of topBar.querySelectorAll('a[id^="nav-"]')) {
    if (link.getAttribute('href') === `#/${name}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  menuButton.classList.toggle('current', name === 'api-keys' || name === 'keys');
}

/** Lists the person's workspaces in the switcher, the current one selected. */
function fillSwitcher(s) {
  switcher.replaceChildren(...s.workspaces.map((w) => h('option', {
    value: w.workspace, text: `${w.name} (${w.role})`,
  })));
  switcher.value = s.workspace;
}

/** Switching workspace signs in again: each workspace has its own sign-in policy. The
 * session of the workspace being left is ended first, so no second one stays alive. */
async function onSwitch() {
  const s = session();
  if (!s || switcher.value === s.workspace) return;
  const chosen = s.workspaces.find((w) => w.workspace === switcher.value);
  const target = chosen ? chosen.name : switcher.value;
  switcher.value = s.workspace;
  await endSession();
  requestSwitch(s.email, target);
  go('sign-in');
}

function menuLinks() {
  return [...menuList.querySelectorAll('a')];
}

function openMenu(focusFirst) {
  menuList.hidden = false;
  menuButton.setAttribute('aria-expanded', 'true');
  if (focusFirst) menuLinks()[0].focus();
}

function closeMenu(focusButton) {
  if (menuList.hidden) return;
  menuList.hidden = true;
  menuButton.setAttribute('aria-expanded', 'false');
  if (focusButton) menuButton.focus();
}

/** The APIs menu: a button (Enter/Space toggle it, ArrowDown opens it on its first link),
 * arrow keys between its links, Escape closes it, so do a click or focus elsewhere. */
function wireMenu() {
  const menu = menuButton.parentElement;
  menuButton.addEventListener('click', () => (menuList.hidden ? openMenu(false) : closeMenu(false)));
  menu.addEventListener('keydown', (event) => {
    const links = menuLinks();
    const at = links.indexOf(document.activeElement);
    if (event.key === 'Escape') {
      event.preventDefault();
      closeMenu(true);
    } else if (event.key === 'ArrowDown') {
      event.preventDefault();
      if (menuList.hidden) openMenu(true);
      else links[(at + 1) % links.length].focus();
    } else if (event.key === 'ArrowUp' && !menuList.hidden) {
      event.preventDefault();
      links[(at <= 0 ? links.length : at) - 1].focus();
    }
  });
  for (const link of menuLinks()) link.addEventListener('click', () => closeMenu(false));
  document.addEventListener('click', (event) => {
    if (!menu.contains(event.target)) closeMenu(false);
  });
  document.addEventListener('focusin', (event) => {
    if (!menu.contains(event.target)) closeMenu(false);
  });
}

/** Ends the session at the server, then forgets everything here. */
/** Ends the session at the server and forgets it here. */
async function endSession() {
  try {
    await api('DELETE', '/v1/sessions/current', undefined, { sessionCheck: false });
  } catch {
    // Signed out here whatever the server said: the cookie's session ends with its time.
  }
  clearSession();
}

async function signOut() {
  await endSession();
  go('sign-in');
}

/** Any answer saying the session is gone: forget it and ask to sign in again. */
function sessionEnded() {
  if (session() === null) return;
  clearSession();
  setNotice('Your session has ended. Please sign in again.');
  go('sign-in');
}

// ---- Start ----------------------------------------------------------------------------

/** Asks the server who is signed in (the cookie, if any, says). */
async function probeSession() {
  try {
    setSession(await api('GET', '/v1/sessions/current', undefined, { sessionCheck: false }));
  } catch (err) {
    clearSession();
    // Signed out is a 401; a server that cannot answer is worth saying.
    if (err.status === 0 || err.status >= 500) {
      setNotice(`Could not check your session: ${errorText(err)}`);
    }
  }
}

async function start() {
  wireMenu();
  switcher.addEventListener('change', onSwitch);
  document.getElementById('sign-out').addEventListener('click', signOut);
  document.getElementById('skip-link').addEventListener('click', (event) => {
    event.preventDefault(); // "#main" is not a route: move the focus instead
    main.focus();
  });
  onSessionLost(sessionEnded);
  await probeSession();
  window.addEventListener('hashchange', route);
  // Leaving the site (or the tab) wipes one-time secrets too: a page restored from the
  // back-forward cache must not show a token again.
  window.addEventListener('pagehide', leave);
  route();
}

start();
