// Local OpenID Connect identity provider for Portcullis development and tests.
//
// node-oidc-provider v9 on 127.0.0.1 with in-memory storage and a signing key
// generated at start: every restart invalidates all sessions and tokens.
//
// Environment (all optional):
//   IDP_PORT                       port to listen on; 0 (default) lets the OS pick a free one.
//                                  The issuer is http://<IDP_HOST>:<bound port>, no trailing slash.
//   IDP_HOST                       the issuer's host name, "127.0.0.1" (default) or "localhost": a
//                                  browser counts localhost as another site than 127.0.0.1, so an
//                                  app on one and the provider on the other see cross-site requests
//                                  as they do in production. It always listens on 127.0.0.1 (a
//                                  browser that tries ::1 for localhost first falls back to it).
//   IDP_CLIENT_ID                  default "portcullis-dev"
//   IDP_CLIENT_SECRET              default "portcullis-dev-secret" (client_secret_basic)
//   IDP_REDIRECT_URIS              comma-separated, default "http://127.0.0.1:3000/auth/callback/local"
//   IDP_POST_LOGOUT_REDIRECT_URIS  comma-separated, default "http://127.0.0.1:3000/auth/logged-out"
//   IDP_BACKCHANNEL_LOGOUT_URI     default "http://127.0.0.1:3000/auth/backchannel/local";
//                                  an empty value registers the client without back-channel logout
//   IDP_ACCESS_TOKEN_TTL           access token lifetime in seconds, default 3600
//   IDP_RESOURCE_SERVER_ID         default "portcullis-notes-api": a resource server's client,
//   IDP_RESOURCE_SERVER_SECRET     default "portcullis-notes-api-secret" (client_secret_basic);
//                                  it signs nobody in and may only introspect access tokens
//                                  (RFC 7662, POST /token/introspection)
//   IDP_NOTES_RESOURCE             default "https://notes-api.portcullis.test": the notes API's
//                                  resource indicator (RFC 8707). An authorization request may
//                                  name it with the scopes "notes:read notes:write"; a refresh
//                                  grant naming it then gets an access token for it alone
//                                  (audience the resource, those scopes only, opaque, so the
//                                  resource server introspects it). Any other resource is
//                                  refused with invalid_target.
//   IDP_CANARY_FILE                if set, every access and refresh token issued is appended there
//   IDP_READY_FILE                 if set, {"issuer","port","pid"} JSON is written there (atomically)
//                                  once the provider accepts requests
//   IDP_TEST_CONTROLS              "1" enables POST /__test/rotate-signing-key: a new signing key
//                                  is made and used from then on, the earlier ones stay published,
//                                  sessions, grants and tokens are kept (key rotation as Google
//                                  does it). Off by default.
//
// Once listening it prints exactly one line to stdout:
//   IDP_READY {"issuer":"http://127.0.0.1:NNNNN","port":NNNNN}
// Everything else (oidc-provider's notices included) goes to stderr.
//
// Accounts: log in on the development form with login "demo" (sub "demo-user-1",
// Dana Demo, demo@portcullis.test) or "alice" (sub "alice-2", Alice Example,
// alice@portcullis.test). Any password is accepted, e.g. "demo". An unknown login
// is refused: the browser is sent back to an empty login form.
//
// Lifetime: exits 0 on SIGINT, SIGTERM or SIGHUP, and by itself within about
// 500 ms once the process that started it is gone (unless that parent had
// already exited before this script got going). stdin is not watched.

import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';

import { failWith, integerEnv as integerEnvOf, stopWithParent } from '../lib/service.mjs';

// Taken before the slow oidc-provider import, to narrow the window in which the
// parent can exit unnoticed (a process orphaned before this line sees ppid 1).
const parentPid = process.ppid;
const { default: Provider, errors } = await import('oidc-provider');
// oidc-provider's in-memory storage, one store per process rather than per
// provider instance, so a key rotation (a new instance) keeps every session,
// grant and token.
const { default: MemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js');

// oidc-provider prints its "you SHOULD change ..." notices with console.info;
// stdout is reserved for the ready line.
console.info = console.error;

const env = process.env;

const fail = failWith('identity-provider');
const integerEnv = (...args) => integerEnvOf(fail, ...args);

const listEnv = (name, fallback) => (env[name] ?? fallback)
  .split(',').map((item) => item.trim()).filter(Boolean);

const config = {
  port: integerEnv('IDP_PORT', 0, 0, 65535),
  clientId: env.IDP_CLIENT_ID || 'portcullis-dev',
  clientSecret: env.IDP_CLIENT_SECRET || 'portcullis-dev-secret',
  redirectUris: listEnv('IDP_REDIRECT_URIS', 'http://127.0.0.1:3000/auth/callback/local'),
  postLogoutRedirectUris: listEnv('IDP_POST_LOGOUT_REDIRECT_URIS', 'http://127.0.0.1:3000/auth/logged-out'),
  backchannelLogoutUri: env.IDP_BACKCHANNEL_LOGOUT_URI ?? 'http://127.0.0.1:3000/auth/backchannel/local',
  accessTokenTtl: integerEnv('IDP_ACCESS_TOKEN_TTL', 3600, 1, 365 * 24 * 3600),
  resourceServerId: env.IDP_RESOURCE_SERVER_ID || 'portcullis-notes-api',
  resourceServerSecret: env.IDP_RESOURCE_SERVER_SECRET || 'portcullis-notes-api-secret',
  notesResource: env.IDP_NOTES_RESOURCE || 'https://notes-api.portcullis.test',
  readyFile: env.IDP_READY_FILE,
};
if (config.redirectUris.length === 0) fail('IDP_REDIRECT_URIS must list at least one URI');

// Seeded accounts, keyed by what is typed into the login form. The account id
// oidc-provider stores in sessions and tokens is the sub.
/** The authentication context class of its login form: a password. */
const ACR_PASSWORD = 'urn:portcullis:acr:password';

const ACCOUNTS = {
  demo: {
    sub: 'demo-user-1',
    name: 'Dana Demo',
    given_name: 'Dana',
    family_name: 'Demo',
    preferred_username: 'demo',
    email: 'demo@portcullis.test',
    email_verified: true,
  },
  alice: {
    sub: 'alice-2',
    name: 'Alice Example',
    given_name: 'Alice',
    family_name: 'Example',
    preferred_username: 'alice',
    email: 'alice@portcullis.test',
    email_verified: true,
  },
};
const accountsBySub = new Map(Object.values(ACCOUNTS).map((claims) => [claims.sub, claims]));

// Bind first: the issuer must carry the port the OS actually gave us.
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(config.port, '127.0.0.1', resolve);
}).catch((error) => fail(`cannot listen on 127.0.0.1:${config.port}: ${error.message}`));
const { port } = server.address();
const issuerHost = env.IDP_HOST || '127.0.0.1';
if (!['127.0.0.1', 'localhost'].includes(issuerHost)) fail('IDP_HOST must be 127.0.0.1 or localhost');
const issuer = `http://${issuerHost}:${port}`;

/** A new RSA signing key as a private JWK with a fresh `kid`. */
let keyCount = 0;
function newSigningKey() {
  keyCount += 1;
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  return { ...key, kid: `dev-${Date.now()}-${keyCount}`, use: 'sig', alg: 'RS256' };
}

/**
 * The provider signing with the first of `keys` and publishing them all.
 * Every instance shares one in-memory store, so a new instance keeps the
 * sessions, grants and tokens.
 */
function makeProvider(keys) {
  const instance = new Provider(issuer, {
    clients: [{
      client_id: config.clientId,
      client_secret: config.clientSecret,
      redirect_uris: config.redirectUris,
      post_logout_redirect_uris: config.postLogoutRedirectUris,
      ...(config.backchannelLogoutUri && {
        backchannel_logout_uri: config.backchannelLogoutUri,
        backchannel_logout_session_required: true,
      }),
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
      // Every ID token says when the user authenticated, as Okta, Auth0 and
      // Keycloak always do (OIDC Registration require_auth_time).
      require_auth_time: true,
    }, {
      // A resource server: no sign-ins, only token introspection.
      client_id: config.resourceServerId,
      client_secret: config.resourceServerSecret,
      redirect_uris: [],
      grant_types: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys },
    adapter: (model) => new MemoryAdapter(model),
    cookies: { keys: ['portcullis-dev-cookie-key-1', 'portcullis-dev-cookie-key-2'] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'picture', 'preferred_username'],
    },
    // The authentication context classes it knows (OIDC Core §3.1.2.1
    // acr_values): its login form is a password, never more.
    acrValues: [ACR_PASSWORD, 'urn:portcullis:acr:mfa'],
    // Put the scope-granted claims (email, name, ...) into the ID token, not only userinfo.
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      introspection: {
        enabled: true,
        // Only the resource server asks, and only about access tokens.
        allowedPolicy: async (ctx, client, token) => client.clientId === config.resourceServerId
          && token.kind === 'AccessToken',
      },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
      claimsParameter: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // The session's own access token (from the code exchange) stays the
        // userinfo one; only a token request naming the resource gets one for it.
        useGrantedResource: async () => false,
        getResourceServerInfo: async (ctx, resource, client) => {
          if (resource !== config.notesResource || client.clientId !== config.clientId) {
            throw new errors.InvalidTarget();
          }
          return {
            scope: 'notes:read notes:write',
            audience: resource,
            accessTokenFormat: 'opaque',
            accessTokenTTL: config.accessTokenTtl,
          };
        },
      },
    },
    // S256 is the only method oidc-provider v9 supports; require it for every client.
    pkce: { required: () => true },
    // Without this, refresh tokens need offline_access (which itself needs prompt=consent).
    issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token')
      && code.scopes.has('openid'),
    rotateRefreshToken: true,
    // Everything runs on one clock; the default 15 s tolerance would keep an
    // access token with IDP_ACCESS_TOKEN_TTL=5 usable for 20 s.
    clockTolerance: 0,
    ttl: {
      AccessToken: config.accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    // oidc-provider's outgoing requests (here only back-channel logout) go through
    // an SSRF-protecting dispatcher that refuses loopback addresses, which is
    // exactly where the client lives in development. Use the plain global fetch.
    fetch: (url, { dispatcher, ...options }) => globalThis.fetch(url, options),
    findAccount: async (ctx, sub) => {
      const claims = accountsBySub.get(sub);
      return claims && { accountId: sub, claims: async () => claims };
    },
  });
  configure(instance);
  return instance;
}

/** Login mapping, offline pages, logging and the canary hunt, on `instance`. */
function configure(instance) {
  // The development login form posts the typed login as the account id. Handle
  // that submission here instead, to map the login to its sub and to refuse
  // unknown logins. The consent form still goes to the built-in handler.
  instance.use(async (ctx, next) => {
    const uid = ctx.method === 'POST' && ctx.path.match(/^\/interaction\/([^/]+)$/)?.[1];
    if (!uid) return next();

    let details;
    try {
      details = await instance.interactionDetails(ctx.req, ctx.res);
    } catch {
      return next(); // no or expired interaction: let oidc-provider render the error
    }
    if (details.prompt.name !== 'login') return next();

    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    const account = ACCOUNTS[new URLSearchParams(Buffer.concat(chunks).toString()).get('login')];

    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.set('Location', account
      ? await instance.interactionResult(
        ctx.req,
        ctx.res,
        { login: { accountId: account.sub, acr: ACR_PASSWORD } },
        { mergeWithLastSubmission: false },
      )
      : `/interaction/${uid}`);
  });

  // The built-in pages import a Google font; this machine is offline and a failed
  // request would show up as a browser console error.
  instance.use(async (ctx, next) => {
    await next();
    if (typeof ctx.body === 'string' && ctx.response.is('html')) {
      ctx.body = ctx.body.replace(/@import url\(https:\/\/fonts\.googleapis\.com[^)]*\);?/g, '');
    }
  });

  instance.on('server_error', (ctx, error) => console.error('identity-provider: server_error', error));

  // Canary hunt: every access and refresh token issued is appended to
  // IDP_CANARY_FILE, so the tests can search everything the browser received
  // and every server log line for them.
  if (env.IDP_CANARY_FILE) {
    for (const event of ['access_token.saved', 'refresh_token.saved']) {
      instance.on(event, (token) => appendFileSync(env.IDP_CANARY_FILE, `${token.jti}\n`));
    }
  }
  instance.on('backchannel.error', (ctx, error, client) => {
    console.error(`identity-provider: back-channel logout to ${client.backchannelLogoutUri} failed: ${error.message}`);
  });
}

let signingKeys = [newSigningKey()];
let provider = makeProvider(signingKeys);

// Browsers ask every origin for /favicon.ico; an empty answer keeps their
// consoles free of 404s during browser tests.
let handleOidc = provider.callback();
server.on('request', (req, res) => {
  if (req.url === '/favicon.ico') {
    res.writeHead(204, { 'cache-control': 'max-age=86400' }).end();
    return;
  }
  if (env.IDP_TEST_CONTROLS === '1' && req.method === 'POST' && req.url === '/__test/rotate-signing-key') {
    signingKeys = [newSigningKey(), ...signingKeys];
    provider = makeProvider(signingKeys);
    handleOidc = provider.callback();
    res.writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ signing_kid: signingKeys[0].kid, published: signingKeys.length }));
    return;
  }
  handleOidc(req, res);
});

function shutdown() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
stopWithParent(parentPid, shutdown);

if (config.readyFile) {
  const tmp = `${config.readyFile}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ issuer, port, pid: process.pid })}\n`);
  await rename(tmp, config.readyFile);
}
process.stdout.write(`IDP_READY ${JSON.stringify({ issuer, port })}\n`);
