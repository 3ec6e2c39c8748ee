// A fake GitHub for Portcullis development and tests: GitHub's OAuth app
// flow and the two REST endpoints Portcullis reads, in the shapes GitHub
// documents, on 127.0.0.1 with no dependencies and in-memory state.
//
//   GET  /login/oauth/authorize      a sign-in page: type a login, Authorize or Cancel
//   POST /login/oauth/access_token   code (+ PKCE verifier) → token; errors on HTTP 200, as GitHub does
//   GET  /api/v3/user                the user (GitHub Enterprise layout: set GITHUB_API_URL=<url>/api/v3)
//   GET  /api/v3/user/emails         their addresses
//
// Environment (all optional):
//   FAKE_GITHUB_PORT           port to listen on; 0 (default) lets the OS pick a free one
//   FAKE_GITHUB_CLIENT_ID      default "portcullis-dev-github"
//   FAKE_GITHUB_CLIENT_SECRET  default "portcullis-dev-github-secret"
//   FAKE_GITHUB_REDIRECT_URIS  comma-separated, default "http://127.0.0.1:3000/auth/callback/github"
//   FAKE_GITHUB_SLOW_MS        how long the "slow" user's API calls take, default 20000
//
// Once listening it prints one line to stdout:
//   FAKE_GITHUB_READY {"url":"http://127.0.0.1:NNNNN","port":NNNNN}
//
// Users (type the login on the sign-in page; no password):
//   dana        id 1001, Dana Demo, demo@portcullis.test (the local provider's demo user's address)
//   octocat     id 583231, The Octocat, octocat@github.test
//   noverified  id 1002: no primary verified address
//   unauthorized, ratelimited, slow: /user answers 401 Bad credentials, 403 rate limit, or late
//
// Lifetime: exits 0 on SIGINT, SIGTERM or SIGHUP, and within about 500 ms
// once the process that started it is gone.

import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import { failWith, integerEnv as integerEnvOf, stopWithParent } from '../lib/service.mjs';

const parentPid = process.ppid;
const env = process.env;

const fail = failWith('fake-github');
const integerEnv = (...args) => integerEnvOf(fail, ...args);

const config = {
  port: integerEnv('FAKE_GITHUB_PORT', 0, 0, 65535),
  clientId: env.FAKE_GITHUB_CLIENT_ID || 'portcullis-dev-github',
  clientSecret: env.FAKE_GITHUB_CLIENT_SECRET || 'portcullis-dev-github-secret',
  redirectUris: (env.FAKE_GITHUB_REDIRECT_URIS ?? 'http://127.0.0.1:3000/auth/callback/github')
    .split(',').map((u) => u.trim()).filter(Boolean),
  slowMs: integerEnv('FAKE_GITHUB_SLOW_MS', 20000, 0, 600000),
};

const verified = (email) => [{ email, primary: true, verified: true, visibility: 'public' }];
const USERS = {
  dana: { id: 1001, name: 'Dana Demo', emails: verified('demo@portcullis.test') },
  octocat: { id: 583231, name: 'The Octocat', emails: verified('octocat@github.test') },
  noverified: {
    id: 1002,
    name: 'Nova Unverified',
    emails: [
      { email: 'nova@github.test', primary: true, verified: false, visibility: 'public' },
      { email: 'nova@old.test', primary: false, verified: true, visibility: null },
    ],
  },
  unauthorized: { id: 1003, name: 'Una Authorized', emails: verified('una@github.test') },
  ratelimited: { id: 1004, name: 'Rita Limited', emails: verified('rita@github.test') },
  slow: { id: 1005, name: 'Sol Slow', emails: verified('sol@github.test') },
};

const codes = new Map(); // code → { login, redirectUri, challenge, expires }
const tokens = new Map(); // access token → login

const random = () => randomBytes(20).toString('hex');
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function send(res, status, body, headers = {}) {
  const isJson = typeof body !== 'string';
  res.writeHead(status, {
    'content-type': isJson ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(isJson ? JSON.stringify(body) : body);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 64 * 1024) break;
  }
  return new URLSearchParams(body);
}

function redirectWith(res, redirectUri, params) {
  const target = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
  res.writeHead(302, { location: target.toString(), 'cache-control': 'no-store' });
  res.end();
}

function authorizePage(query, message = '') {
  const hidden = ['client_id', 'redirect_uri', 'state', 'scope', 'code_challenge', 'code_challenge_method']
    .map((name) => `<input type="hidden" name="${name}" value="${escape(query.get(name) ?? '')}">`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to GitHub (local fake)</title>
<style>body{font:16px system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#1f2328}
label{display:block;margin:1rem 0 .25rem;font-weight:600}input[type=text]{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
button{margin:1rem .5rem 0 0;padding:.5rem 1rem;font:inherit}.note{color:#59636e}.error{color:#b3261e}</style></head>
<body><h1>Sign in to GitHub</h1><p class="note">Local fake for development. Users: dana, octocat, noverified, unauthorized, ratelimited, slow.</p>
${message ? `<p class="error" role="alert">${escape(message)}</p>` : ''}
<form method="post" action="/login/oauth/authorize">${hidden}
<label for="login">Username</label><input id="login" type="text" name="login" autocomplete="username" autofocus>
<button type="submit" name="decision" value="authorize">Authorize</button>
<button type="submit" name="decision" value="cancel">Cancel</button>
</form></body></html>`;
}

function checkClient(params) {
  if (params.get('client_id') !== config.clientId) return 'unknown client_id';
  if (!config.redirectUris.includes(params.get('redirect_uri') ?? '')) return 'redirect_uri is not registered';
  return null;
}

async function authorize(req, res, url) {
  if (req.method === 'GET') {
    const problem = checkClient(url.searchParams);
    if (problem) return send(res, 400, `<!doctype html><p>${escape(problem)}</p>`);
    return send(res, 200, authorizePage(url.searchParams));
  }
  const form = await readForm(req);
  const problem = checkClient(form);
  if (problem) return send(res, 400, `<!doctype html><p>${escape(problem)}</p>`);
  const redirectUri = form.get('redirect_uri');
  const state = form.get('state') ?? '';
  if (form.get('decision') === 'cancel') {
    return redirectWith(res, redirectUri, {
      error: 'access_denied',
      error_description: 'The user has denied your application access.',
      state,
    });
  }
  const login = (form.get('login') ?? '').trim();
  if (!USERS[login]) return send(res, 200, authorizePage(form, `No user "${login}".`));
  const code = random();
  codes.set(code, {
    login,
    redirectUri,
    challenge: form.get('code_challenge') || null,
    expires: Date.now() + 10 * 60 * 1000,
  });
  return redirectWith(res, redirectUri, { code, state });
}

async function accessToken(req, res) {
  const form = await readForm(req);
  const wantsJson = (req.headers.accept ?? '').includes('application/json');
  const answer = (body) => {
    // GitHub answers form-encoded unless asked for JSON, errors on HTTP 200.
    if (wantsJson) return send(res, 200, body);
    res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
    return res.end(new URLSearchParams(body).toString());
  };
  if (form.get('client_id') !== config.clientId || form.get('client_secret') !== config.clientSecret) {
    return answer({ error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' });
  }
  const grant = codes.get(form.get('code') ?? '');
  codes.delete(form.get('code') ?? '');
  if (!grant || grant.expires < Date.now()) {
    return answer({ error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
  }
  if (form.get('redirect_uri') !== grant.redirectUri) {
    return answer({ error: 'redirect_uri_mismatch', error_description: 'The redirect_uri MUST match the registered callback URL for this application.' });
  }
  if (grant.challenge) {
    const verifier = form.get('code_verifier') ?? '';
    const computed = createHash('sha256').update(verifier).digest('base64url');
    if (computed !== grant.challenge) {
      return answer({ error: 'bad_verification_code', error_description: 'The code_verifier does not match the code_challenge.' });
    }
  }
  const token = `gho_fake_${random()}`;
  tokens.set(token, grant.login);
  return answer({ access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
}

async function api(req, res, path) {
  const auth = req.headers.authorization ?? '';
  const login = tokens.get(auth.replace(/^(Bearer|token) /i, ''));
  const docs = 'https://docs.github.com/rest';
  if (!login || login === 'unauthorized') {
    return send(res, 401, { message: 'Bad credentials', documentation_url: docs, status: '401' });
  }
  if (login === 'ratelimited') {
    return send(res, 403, {
      message: `API rate limit exceeded for user ID ${USERS[login].id}.`,
      documentation_url: `${docs}/overview/rate-limits-for-the-rest-api`,
      status: '403',
    }, {
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
    });
  }
  if (login === 'slow') await new Promise((resolve) => setTimeout(resolve, config.slowMs));
  const user = USERS[login];
  if (path === '/api/v3/user') {
    return send(res, 200, {
      login,
      id: user.id,
      node_id: Buffer.from(`04:User${user.id}`).toString('base64'),
      avatar_url: null,
      type: 'User',
      site_admin: false,
      name: user.name,
      email: null,
      public_repos: 3,
      followers: 1,
      following: 0,
      created_at: '2020-01-01T00:00:00Z',
    });
  }
  return send(res, 200, user.emails);
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const route = `${req.method} ${url.pathname}`;
  const handle = {
    'GET /login/oauth/authorize': () => authorize(req, res, url),
    'POST /login/oauth/authorize': () => authorize(req, res, url),
    'POST /login/oauth/access_token': () => accessToken(req, res),
    'GET /api/v3/user': () => api(req, res, url.pathname),
    'GET /api/v3/user/emails': () => api(req, res, url.pathname),
    'GET /favicon.ico': () => { res.writeHead(204); res.end(); },
  }[route];
  if (!handle) return send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
  return Promise.resolve(handle()).catch((error) => {
    console.error(`fake-github: ${route}: ${error.stack}`);
    if (!res.headersSent) send(res, 500, { message: 'Server Error' });
  });
});

await new Promise((resolve) => {
  server.once('error', (error) => fail(`cannot listen on 127.0.0.1:${config.port}: ${error.message}`));
  server.listen(config.port, '127.0.0.1', resolve);
});
const { port } = server.address();

function shutdown() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
stopWithParent(parentPid, shutdown);

process.stdout.write(`FAKE_GITHUB_READY ${JSON.stringify({ url: `http://127.0.0.1:${port}`, port })}\n`);
