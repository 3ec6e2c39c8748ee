// A small "notes" API for Portcullis development and browser tests: the kind
// of resource server an app reaches through Portcullis's API proxy
// (REMOTE_APIS). It takes only bearer tokens the local identity provider
// says are active and were issued to Portcullis's client, asking the
// provider's introspection endpoint (RFC 7662) with its own credentials on
// every request. With NOTES_API_RESOURCE set it also checks the audience, as
// a resource server should: a token must be meant for that resource (RFC 8707,
// its `aud`) and carry `notes:read` to list and `notes:write` to add (RFC 6750
// §3.1 insufficient_scope otherwise). No dependencies, in-memory notes per
// user (`sub`).
//
//   GET  /notes   {"owner": sub, "notes": [{"text", "at"}...]}
//   POST /notes   {"text": "..."} (1-500 characters) → 201 and the list
//
// Environment:
//   NOTES_API_ISSUER          required: the identity provider's issuer
//   NOTES_API_PORT            port to listen on; 0 (default) lets the OS pick a free one
//   NOTES_API_CLIENT_ID       its own client at the provider, default "portcullis-notes-api"
//   NOTES_API_CLIENT_SECRET   default "portcullis-notes-api-secret"
//   NOTES_API_TRUSTED_CLIENT  the client tokens must be issued to, default "portcullis-dev"
//   NOTES_API_RESOURCE        if set, the resource indicator tokens must be meant for
//                             (the local provider's is "https://notes-api.portcullis.test")
//
// Once listening it prints one line to stdout:
//   NOTES_API_READY {"url":"http://127.0.0.1:NNNNN","port":NNNNN}
//
// Lifetime: exits 0 on SIGINT, SIGTERM or SIGHUP, and within about 500 ms
// once the process that started it is gone.

import { createServer } from 'node:http';

import { failWith, integerEnv as integerEnvOf, stopWithParent } from '../lib/service.mjs';

const parentPid = process.ppid;
const env = process.env;
const fail = failWith('notes-api');
const integerEnv = (...args) => integerEnvOf(fail, ...args);

const config = {
  issuer: env.NOTES_API_ISSUER || fail('NOTES_API_ISSUER must name the identity provider'),
  port: integerEnv('NOTES_API_PORT', 0, 0, 65535),
  clientId: env.NOTES_API_CLIENT_ID || 'portcullis-notes-api',
  clientSecret: env.NOTES_API_CLIENT_SECRET || 'portcullis-notes-api-secret',
  trustedClient: env.NOTES_API_TRUSTED_CLIENT || 'portcullis-dev',
  resource: env.NOTES_API_RESOURCE,
};

const notes = new Map(); // sub → [{ text, at }]
let introspectionEndpoint;

function send(res, status, body, headers = {}) {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(JSON.stringify(body));
}

/** RFC 6750 §3: a 401 that says why. */
function refuse(res, why) {
  send(res, 401, { error: 'invalid_token' }, {
    'www-authenticate': `Bearer error="invalid_token", error_description="${why}"`,
  });
}

/** RFC 6750 §3.1: a 403 naming the scope the token lacks. */
function lacks(res, scope) {
  send(res, 403, { error: 'insufficient_scope', scope }, {
    'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}"`,
  });
}

/** The introspection answer, if the provider says the token is active and ours. */
async function introspect(token) {
  if (!introspectionEndpoint) {
    const discovery = await (await fetch(`${config.issuer}/.well-known/openid-configuration`)).json();
    introspectionEndpoint = discovery.introspection_endpoint;
  }
  const basic = Buffer.from(`${config.clientId}:${config.clientSecret}`).toString('base64');
  const answer = await fetch(introspectionEndpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
  });
  if (!answer.ok) return undefined;
  const claims = await answer.json();
  const fresh = typeof claims.exp === 'number' && claims.exp > Date.now() / 1000;
  return claims.active === true && claims.client_id === config.trustedClient && fresh
    && typeof claims.sub === 'string'
    ? claims
    : undefined;
}

/** Whether the token is meant for this resource, when one is configured. */
function forThisResource(claims) {
  if (!config.resource) return true;
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  return audience.includes(config.resource);
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 10_000) return undefined;
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString());
  } catch {
    return undefined;
  }
}

const server = createServer(async (req, res) => {
  try {
    const token = req.headers.authorization?.match(/^Bearer (\S+)$/)?.[1];
    if (!token) return refuse(res, 'no bearer token');
    const claims = await introspect(token);
    if (!claims) return refuse(res, 'not active');
    if (!forThisResource(claims)) return refuse(res, 'not meant for this resource');
    const owner = claims.sub;
    const path = new URL(req.url, 'http://notes').pathname;
    if (path !== '/notes') return send(res, 404, { error: 'not_found' });
    const needed = req.method === 'POST' ? 'notes:write' : 'notes:read';
    if (config.resource && !(claims.scope ?? '').split(' ').includes(needed)) {
      return lacks(res, needed);
    }
    const mine = notes.get(owner) ?? [];
    if (req.method === 'GET') return send(res, 200, { owner, notes: mine });
    if (req.method === 'POST') {
      const body = await readJson(req);
      const text = typeof body?.text === 'string' ? body.text.trim() : '';
      if (text.length < 1 || text.length > 500) {
        return send(res, 400, { error: 'invalid_note', message: 'A note is 1 to 500 characters.' });
      }
      mine.push({ text, at: new Date().toISOString() });
      notes.set(owner, mine);
      return send(res, 201, { owner, notes: mine });
    }
    return send(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, POST' });
  } catch (error) {
    console.error('notes-api:', error);
    return send(res, 502, { error: 'provider_unreachable' });
  }
});

await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(config.port, '127.0.0.1', resolve);
}).catch((error) => fail(`cannot listen on 127.0.0.1:${config.port}: ${error.message}`));
const { port } = server.address();

stopWithParent(parentPid, () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
process.stdout.write(`NOTES_API_READY ${JSON.stringify({ url: `http://127.0.0.1:${port}`, port })}\n`);
