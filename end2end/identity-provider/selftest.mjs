// Self-test for server.mjs: starts it on a free port and drives discovery, a
// full authorization code flow with PKCE through the development login and
// consent forms, refresh token rotation, RP-initiated and back-channel logout,
// and its shutdown (SIGTERM, and the parent going away).
//
// Run: npm run test:idp. Prints "N passed, M failed" last; exit code 0 only if all passed.

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SERVER = new URL('server.mjs', import.meta.url).pathname;
const CLIENT_ID = 'portcullis-dev';
const CLIENT_SECRET = 'portcullis-dev-secret';
const REDIRECT_URI = 'http://127.0.0.1:3000/auth/callback/local';
const POST_LOGOUT_REDIRECT_URI = 'http://127.0.0.1:3000/auth/logged-out';
// The providers started here see only the IDP_* settings the test chooses.
const BASE_ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('IDP_')));

let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}: ${error.message}`);
    error.reported = true;
    throw error;
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Resolves with the JSON of the first stdout line, which must be the ready line.
function readyLine(stream) {
  return new Promise((resolve, reject) => {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', function onData(chunk) {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline === -1) return;
      stream.off('data', onData);
      stream.resume(); // keep draining later output
      const line = buffered.slice(0, newline);
      const match = line.match(/^IDP_READY (\{.*\})$/);
      if (match) resolve(JSON.parse(match[1]));
      else reject(new Error(`unexpected first stdout line: ${line}`));
    });
    stream.on('end', () => reject(new Error('stdout closed before the ready line')));
  });
}

const base64url = (buffer) => buffer.toString('base64url');
const jwtPayload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

// A minimal cookie jar: one value per name, sent on every request to the issuer.
const jar = new Map();
let issuer;

async function request(path, { method = 'GET', form, headers = {} } = {}) {
  const response = await fetch(new URL(path, issuer), {
    method,
    redirect: 'manual',
    headers: {
      ...headers,
      cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; '),
      ...(form && { 'content-type': 'application/x-www-form-urlencoded' }),
    },
    body: form && new URLSearchParams(form),
  });
  for (const header of response.headers.getSetCookie()) {
    const pair = header.split(';', 1)[0];
    const name = pair.slice(0, pair.indexOf('='));
    const value = pair.slice(pair.indexOf('=') + 1);
    if (value === '' || /expires=Thu, 01 Jan 1970/i.test(header)) jar.delete(name);
    else jar.set(name, value);
  }
  return response;
}

// Follows provider-internal redirects; returns the first response that is not
// a redirect back into the provider (a page, or a redirect to the client).
async function follow(response) {
  let current = response;
  for (;;) {
    const location = current.headers.get('location');
    if (!location) return current;
    const target = new URL(location, issuer);
    if (target.origin !== issuer) return current;
    current = await request(target);
  }
}

function expectRedirectTo(response, prefix) {
  assert(response.status === 303 || response.status === 302, `expected a redirect, got ${response.status}`);
  const location = new URL(response.headers.get('location'), issuer);
  assert(location.href.startsWith(prefix), `expected a redirect to ${prefix}, got ${location}`);
  return location;
}

const basicCredentials = Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`)
  .toString('base64');

async function tokenRequest(form) {
  const response = await request('/token', {
    method: 'POST',
    form,
    headers: { authorization: `Basic ${basicCredentials}` },
  });
  return { status: response.status, body: await response.json() };
}

// Receives the back-channel logout POST the provider sends to the client.
async function startBackchannelReceiver() {
  let deliver;
  const received = new Promise((resolve) => { deliver = resolve; });
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      res.end();
      deliver(new URLSearchParams(body).get('logout_token'));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, received, uri: `http://127.0.0.1:${server.address().port}/backchannel` };
}

async function main() {
  const workDir = await mkdtemp(join(tmpdir(), 'idp-selftest-'));
  const backchannel = await startBackchannelReceiver();
  const readyFile = join(workDir, 'ready.json');
  const child = spawn(process.execPath, [SERVER], {
    env: {
      ...BASE_ENV,
      IDP_PORT: '0',
      IDP_READY_FILE: readyFile,
      IDP_BACKCHANNEL_LOGOUT_URI: backchannel.uri,
      IDP_ACCESS_TOKEN_TTL: '5',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let orphanPid;

  try {
    let ready;
    await check('prints the IDP_READY line', async () => {
      ready = await withTimeout(readyLine(child.stdout), 10000, 'no ready line');
      issuer = ready.issuer;
      assert(issuer === `http://127.0.0.1:${ready.port}` && ready.port > 0, `bad ready line ${JSON.stringify(ready)}`);
    });

    await check('writes IDP_READY_FILE', async () => {
      const file = JSON.parse(await readFile(readyFile, 'utf8'));
      assert(file.issuer === issuer && file.port === ready.port && file.pid === child.pid, `bad ready file ${JSON.stringify(file)}`);
    });

    await check('discovery document', async () => {
      const doc = await (await request('/.well-known/openid-configuration')).json();
      assert(doc.issuer === issuer, `issuer ${doc.issuer}`);
      for (const key of ['jwks_uri', 'revocation_endpoint', 'end_session_endpoint']) assert(doc[key], `no ${key}`);
      assert(doc.backchannel_logout_supported === true, 'backchannel_logout_supported is not true');
      assert(doc.code_challenge_methods_supported?.includes('S256'), 'S256 not supported');
      assert(doc.authorization_response_iss_parameter_supported === true, 'iss parameter not supported');
    });

    await check('JWKS has an RSA key', async () => {
      const { keys } = await (await request('/jwks')).json();
      assert(keys?.some((key) => key.kty === 'RSA'), 'no RSA key');
    });

    const state = base64url(randomBytes(16));
    const nonce = base64url(randomBytes(16));
    const verifier = base64url(randomBytes(32));
    const authParams = {
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid email profile offline_access',
      prompt: 'consent',
      state,
      nonce,
    };

    await check('authorization request without PKCE is refused', async () => {
      const response = await request(`/auth?${new URLSearchParams(authParams)}`);
      if (response.status !== 400) {
        const error = expectRedirectTo(response, REDIRECT_URI).searchParams.get('error');
        assert(error === 'invalid_request', `error ${error}`);
      }
    });

    const challenge = base64url(createHash('sha256').update(verifier).digest());
    let loginPath;
    await check('authorization request shows the login form', async () => {
      const query = new URLSearchParams({ ...authParams, code_challenge: challenge, code_challenge_method: 'S256' });
      const page = await follow(await request(`/auth?${query}`));
      const html = await page.text();
      loginPath = new URL(page.url).pathname;
      assert(page.status === 200 && /^\/interaction\/[^/]+$/.test(loginPath), `landed on ${page.status} ${page.url}`);
      for (const field of ['name="prompt" value="login"', 'name="login"', 'name="password"']) {
        assert(html.includes(field), `form lacks ${field}`);
      }
      assert(!html.includes('fonts.googleapis.com'), 'page still imports a web font');
    });

    await check('unknown login is sent back to the login form', async () => {
      const response = await request(loginPath, { method: 'POST', form: { prompt: 'login', login: 'mallory', password: 'x' } });
      expectRedirectTo(response, `${issuer}${loginPath}`);
    });

    let consentPath;
    await check('login demo/demo leads to the consent form', async () => {
      const form = { prompt: 'login', login: 'demo', password: 'demo' };
      const page = await follow(await request(loginPath, { method: 'POST', form }));
      consentPath = new URL(page.url).pathname;
      const html = await page.text();
      assert(page.status === 200 && html.includes('name="prompt" value="consent"'), `landed on ${page.status} ${page.url}`);
    });

    let code;
    await check('consent redirects to the client with code, state and iss', async () => {
      const response = await follow(await request(consentPath, { method: 'POST', form: { prompt: 'consent' } }));
      const params = expectRedirectTo(response, REDIRECT_URI).searchParams;
      code = params.get('code');
      assert(code, `no code in ${params}`);
      assert(params.get('state') === state, 'state mismatch');
      assert(params.get('iss') === issuer, `iss ${params.get('iss')}`);
    });

    let tokens;
    await check('code exchange returns ID, access and refresh tokens', async () => {
      const { status, body } = await tokenRequest({
        grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier,
      });
      assert(status === 200, `status ${status}: ${JSON.stringify(body)}`);
      assert(body.id_token && body.access_token && body.refresh_token, `missing tokens in ${Object.keys(body)}`);
      assert(body.expires_in === 5, `expires_in ${body.expires_in}, IDP_ACCESS_TOKEN_TTL is 5`);
      tokens = body;
    });

    await check('userinfo answers for the access token', async () => {
      const response = await request('/me', { headers: { authorization: `Bearer ${tokens.access_token}` } });
      const claims = await response.json();
      assert(claims.sub === 'demo-user-1' && claims.name === 'Dana Demo', `userinfo ${JSON.stringify(claims)}`);
    });

    let sid;
    await check('ID token carries sub, email, name, nonce and sid', async () => {
      const claims = jwtPayload(tokens.id_token);
      assert(claims.sub === 'demo-user-1', `sub ${claims.sub}`);
      assert(claims.email === 'demo@portcullis.test' && claims.email_verified === true, `email ${claims.email}`);
      assert(claims.name === 'Dana Demo', `name ${claims.name}`);
      assert(claims.nonce === nonce, 'nonce mismatch');
      assert(claims.iss === issuer && claims.aud === CLIENT_ID, 'iss or aud mismatch');
      assert(claims.sid, 'no sid');
      sid = claims.sid;
    });

    let refreshed;
    await check('refresh rotates the refresh token', async () => {
      const { status, body } = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
      assert(status === 200, `status ${status}: ${JSON.stringify(body)}`);
      assert(body.refresh_token && body.refresh_token !== tokens.refresh_token, 'refresh token not rotated');
      refreshed = body;
    });

    await check('revoking an access token makes userinfo refuse it', async () => {
      const response = await request('/token/revocation', {
        method: 'POST',
        form: { token: refreshed.access_token, token_type_hint: 'access_token' },
        headers: { authorization: `Basic ${basicCredentials}` },
      });
      assert(response.status === 200, `revocation status ${response.status}`);
      const userinfo = await request('/me', { headers: { authorization: `Bearer ${refreshed.access_token}` } });
      assert(userinfo.status === 401, `userinfo status ${userinfo.status}`);
    });

    const refresh = async (refreshToken) => {
      const { status, body } = await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
      assert(status === 400 && body.error === 'invalid_grant', `status ${status}: ${JSON.stringify(body)}`);
    };
    await check('reusing the rotated refresh token gives invalid_grant', () => refresh(tokens.refresh_token));
    await check('that reuse also revoked the current refresh token', () => refresh(refreshed.refresh_token));

    await check('RP-initiated logout sends a back-channel logout token', async () => {
      const query = new URLSearchParams({
        id_token_hint: tokens.id_token, post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI, state: 'bye',
      });
      const page = await request(`/session/end?${query}`);
      const xsrf = (await page.text()).match(/name="xsrf" value="([^"]+)"/)?.[1];
      assert(page.status === 200 && xsrf, `no logout form (status ${page.status})`);
      const response = await request('/session/end/confirm', { method: 'POST', form: { xsrf, logout: 'yes' } });
      const params = expectRedirectTo(response, POST_LOGOUT_REDIRECT_URI).searchParams;
      assert(params.get('state') === 'bye', 'state not returned');
      const claims = jwtPayload(await withTimeout(backchannel.received, 3000, 'no back-channel logout'));
      assert(claims.sub === 'demo-user-1' && claims.sid === sid, `logout token sub ${claims.sub} sid ${claims.sid}`);
      assert(claims.events?.['http://schemas.openid.net/event/backchannel-logout'], 'no logout event');
    });

    await check('SIGTERM stops it within 3 s with exit code 0', async () => {
      child.kill('SIGTERM');
      const { code } = await withTimeout(exited, 3000, 'still running');
      assert(code === 0, `exit code ${code}`);
    });

    await check('exits by itself within 3 s when its parent exits', async () => {
      // sh starts the provider in the background, waits for the ready file and
      // exits. stdout reaches EOF once both sh and the provider are gone.
      const orphanReadyFile = join(workDir, 'orphan-ready.json');
      const parent = spawn('sh', ['-c', `"$NODE" "$SERVER" & while [ ! -s "$IDP_READY_FILE" ]; do sleep 0.05; done`], {
        env: { ...BASE_ENV, NODE: process.execPath, SERVER, IDP_PORT: '0', IDP_READY_FILE: orphanReadyFile },
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      // Listen before anything is awaited: sh may exit at once.
      const parentExited = new Promise((resolve) => parent.once('exit', resolve));
      const stdoutClosed = new Promise((resolve) => parent.stdout.once('close', resolve));
      const { issuer: orphanIssuer } = await withTimeout(readyLine(parent.stdout), 10000, 'no ready line');
      orphanPid = JSON.parse(await readFile(orphanReadyFile, 'utf8')).pid;
      await withTimeout(parentExited, 5000, 'sh did not exit');
      await withTimeout(stdoutClosed, 3000, 'provider still running after its parent exited');
      const stillServing = await fetch(`${orphanIssuer}/jwks`).then(() => true, () => false);
      assert(!stillServing, 'provider still answers');
    });
  } catch (error) {
    if (!error.reported) {
      failed += 1;
      console.log(`FAIL ${error.stack}`);
    }
    if (stderr) console.log(`--- provider stderr ---\n${stderr.trimEnd()}\n---`);
  } finally {
    child.kill('SIGKILL');
    if (orphanPid) {
      try { process.kill(orphanPid, 'SIGKILL'); } catch { /* already gone, as expected */ }
    }
    backchannel.server.close();
    await rm(workDir, { recursive: true, force: true });
  }

  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

await main();
