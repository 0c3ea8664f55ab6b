// The one way the portal talks to the server: same-origin fetch with the session cookie,
// JSON bodies, the CSRF header on every request that changes something, and the error
// envelope turned into an ApiError. Never an Authorization header.

import { csrfToken } from '/portal/session.js';

/** A failed request: the envelope's `code` and `message`, and the HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.requestId = requestId || '';
  }
}

// Codes that mean the session is gone: the person has to sign in again.
const SESSION_LOST = new Set(['session_invalid', 'missing_token']);

let sessionLost = () => {};

/** Sets what happens when an answer says the session is gone (the router's sign-out). */
export function onSessionLost(handler) {
  sessionLost = handler;
}

/**
 * Calls the API. Resolves to the parsed JSON answer (or null for an empty one); rejects
 * with an ApiError. Options: `csrf: false` for the routes that take none (sign-in,
 * enrolment); `sessionCheck: false` to handle a 401 oneself (the session probe).
 */
export async function api(method, path, body, options = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const changes = method !== 'GET' && method !== 'HEAD';
  if (changes && options.csrf !== false && csrfToken()) {
    headers['X-CSRF-Token'] = csrfToken();
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network_error',
      'The server could not be reached. Check your connection and try again.');
  }
  const data = await readJson(response);
  if (response.ok) return data;
  const error = toError(response.status, data);
  if (response.status === 401 && SESSION_LOST.has(error.code) && options.sessionCheck !== false) {
    sessionLost(error);
  }
  throw error;
}

/** The answer's JSON, or null when it has none (or is not JSON). */
async function readJson(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The ApiError an answer's envelope describes (or a generic one if it has none). */
function toError(status, data) {
  const e = data && typeof data === 'object' && data.error && typeof data.error === 'object'
    ? data.error
    : null;
  if (!e) {
    return new ApiError(status, 'http_' + status, `The server answered ${status}. Please try again.`);
  }
  let message = String(e.message || 'The request failed.');
  // A server failure is worth reporting: its request id finds it in the logs.
  if (status >= 500 && e.request_id) message += ` (request ${e.request_id})`;
  return new ApiError(status, String(e.code || 'unknown'), message, e.request_id);
}

/** A path segment, percent-encoded. */
export function seg(value) {
  return encodeURIComponent(value);
}
