// @ts-check
// Logging in: the access token becomes an HttpOnly session cookie.
//
// The token arrives once, in the address (?token=...), as printed by the daemon
// or `edge token`; the page trades it for a cookie and removes it from the
// address bar (and history), so it is not left on screen or in bookmarks.
// Without a valid cookie the page asks for the token with a small form.

const loginUrl = new URL('auth/login', document.baseURI).href;

/**
 * POST the token; resolves on success, rejects with the server's one-line reason.
 * @param {string} token
 */
export async function login(token) {
  const res = await fetch(loginUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token }),
    credentials: 'same-origin',
  });
  if (!res.ok) throw new Error((await res.text()).trim() || `HTTP ${res.status}`);
}

/** Drop ?token= from the address bar without reloading. */
export function forgetTokenInAddress() {
  const url = new URL(window.location.href);
  if (!url.searchParams.has('token')) return;
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url);
}

/** @type {{ promise: Promise<void>, close: () => void } | null} while the form is shown: one form, one listener */
let asking = null;

/** Show the login form until a token is accepted; resolves then (the same promise for every caller meanwhile). */
export function askForToken() {
  asking ??= showLoginForm();
  return asking.promise;
}

/** Take the form away unanswered: video plays, so this page is logged in after all. */
export function dismissLogin() {
  asking?.close();
  asking = null;
}

function showLoginForm() {
  const form = /** @type {HTMLFormElement} */ (document.getElementById('login'));
  const input = /** @type {HTMLInputElement} */ (form.querySelector('input[name="token"]'));
  const error = /** @type {HTMLElement} */ (form.querySelector('.login-error'));
  /** @type {() => void} */
  let answered = () => {};
  /** @type {Promise<void>} */
  const promise = new Promise((resolve) => { answered = resolve; });
  const close = () => {
    form.removeEventListener('submit', onSubmit);
    form.hidden = true;
    input.value = '';
  };
  /** @param {SubmitEvent} ev */
  const onSubmit = async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      await login(input.value.trim());
    } catch (err) {
      error.textContent = /** @type {Error} */ (err).message;
      input.select();
      return;
    }
    close();
    asking = null;
    answered();
  };
  form.addEventListener('submit', onSubmit);
  form.hidden = false;
  input.focus();
  return { promise, close };
}
