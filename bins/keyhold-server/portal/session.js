// Who is signed in, held in memory only. The session itself is an HttpOnly cookie the
// script never sees; the CSRF token lives in a module variable and nowhere else (no
// storage, no URL, no console).

let current = null; // { email, workspace, workspaceName, role, expires_at, idle_minutes, workspaces }
let csrf = null;
let switchTo = null; // { email, workspace } when the person picked another workspace
let notice = ''; // a line for the sign-in page ("Your session ended…")

/** Takes a session answer (`POST /v1/sessions` or `GET /v1/sessions/current`). The CSRF
 * token is moved out of `answer`, so the caller holds no copy of it. */
export function setSession(answer) {
  csrf = typeof answer.csrf === 'string' ? answer.csrf : csrf;
  delete answer.csrf;
  const workspaces = Array.isArray(answer.workspaces) && answer.workspaces.length
    ? answer.workspaces.map((w) => ({
      workspace: String(w.workspace), name: String(w.name || w.workspace), role: String(w.role),
    }))
    : [{ workspace: answer.workspace, name: answer.workspace_name || answer.workspace,
      role: answer.role }];
  current = {
    email: answer.email,
    workspace: answer.workspace,
    workspaceName: answer.workspace_name || answer.workspace,
    role: answer.role,
    expires_at: answer.expires_at,
    idle_minutes: answer.idle_minutes,
    workspaces,
  };
}

/** Forgets everything: the person, the CSRF token and any pending switch. */
export function clearSession() {
  current = null;
  csrf = null;
  switchTo = null;
}

/** The signed-in person, or null. */
export function session() {
  return current;
}

/** The CSRF token to send as `X-CSRF-Token`, or null. */
export function csrfToken() {
  return csrf;
}

/** Whether the person may manage members (owners and admins). */
export function canManageMembers() {
  return current !== null && (current.role === 'owner' || current.role === 'admin');
}

/** Remembers that `email` wants to sign in to `workspace` (prefills the sign-in form). */
export function requestSwitch(email, workspace) {
  switchTo = { email, workspace };
}

/** The pending workspace switch, if any, once. */
export function takeSwitch() {
  const s = switchTo;
  switchTo = null;
  return s;
}

/** Sets the line the sign-in page shows once. */
export function setNotice(text) {
  notice = text;
}

/** The sign-in notice, once. */
export function takeNotice() {
  const n = notice;
  notice = '';
  return n;
}
