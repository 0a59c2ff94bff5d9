// @ts-check
// "Log out everywhere" (in the statistics panel): ends every browser's session, this
// one's too, after a phone is lost. Each browser must then log in with the token again;
// this page reloads and asks for it.

const button = /** @type {HTMLButtonElement} */ (document.getElementById('logout-all'));
const logoutAllUrl = new URL('auth/logout-all', document.baseURI).href;

async function logOutEverywhere() {
  const question = 'Log out every browser, this one too? Each must then log in with the access token again.';
  if (!window.confirm(question)) return;
  button.disabled = true;
  try {
    const res = await fetch(logoutAllUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
      credentials: 'same-origin',
    });
    if (!res.ok) throw new Error((await res.text()).trim() || `HTTP ${res.status}`);
  } catch (err) {
    button.disabled = false;
    window.alert(`Not logged out: ${/** @type {Error | undefined} */ (err)?.message ?? err}`);
    return;
  }
  // The page again, without any ?token= in the address: it asks for the token.
  window.location.replace(new URL('.', document.baseURI).href);
}

button.addEventListener('click', logOutEverywhere);
