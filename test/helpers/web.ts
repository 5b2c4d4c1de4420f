/** A browser's part without a browser: fetch with a cookie jar, redirects not followed. */
export interface WebResponse {
  status: number;
  location: string | null;
  setCookies: string[];
  body: string;
  type: string | null;
}

export class WebClient {
  readonly cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  async request(
    path: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<WebResponse> {
    const headers: Record<string, string> = {};
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(this.base + path, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      headers,
      body,
      redirect: 'manual',
    });
    const setCookies = res.headers.getSetCookie();
    for (const c of setCookies) {
      const [pair] = c.split(';');
      const eq = (pair ?? '').indexOf('=');
      const name = (pair ?? '').slice(0, eq);
      const value = (pair ?? '').slice(eq + 1);
      if (/max-age=0|expires=Thu, 01 Jan 1970/i.test(c) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return {
      status: res.status,
      location: res.headers.get('location'),
      setCookies,
      // (whitespace between and around tags folded, as the template's layout is no part of the page's meaning)
      body: /text\/html/.test(res.headers.get('content-type') ?? '')
        ? (await res.text()).replace(/\s+/g, ' ').replace(/> </g, '><')
        : await res.text(),
      type: res.headers.get('content-type'),
    };
  }

  get(path: string): Promise<WebResponse> {
    return this.request(path);
  }

  post(path: string, form: Record<string, string>): Promise<WebResponse> {
    return this.request(path, { form });
  }

  /** The session's CSRF token, as every page carries it (a meta tag, and each form's _csrf). */
  static csrf(page: string): string {
    const m = /name="_csrf" value="([^"]+)"/.exec(page) ?? /name="csrf-token" content="([^"]+)"/.exec(page);
    if (!m?.[1]) throw new Error('no CSRF token in the page');
    return m[1];
  }

  /** Logs in on a server's login page (the login form's own token first). */
  async login(role: string, password: string): Promise<WebResponse> {
    const page = await this.get('/login');
    return this.post('/login', { _csrf: WebClient.csrf(page.body), role, password });
  }
}
