/** The login page (on a server): a database role and its password. */
import { html } from 'hono/html';
import type { Html } from '../layout.js';

export function loginPage(csrf: string, message: string | null, where: string, role = ''): Html {
  return html`${message ? html`<p class="flash bad" role="alert">${message}</p>` : ''}
    <form class="login" method="post" action="/login">
      <p>
        Log in as a database role of <b>${where}</b>: what you do here (a review, a permit) is done as that
        role, with its natal roles, exactly as from the CLI.
      </p>
      <input type="hidden" name="_csrf" value="${csrf}" />
      <label>role <input name="role" value="${role}" autocomplete="username" required autofocus /></label>
      <label>password <input name="password" type="password" autocomplete="current-password" /></label>
      <button>Log in</button>
    </form>`;
}
