// A fast scripted OpenID provider for the login-throughput and refresh
// benchmarks: it approves every authorization request at once, answers the
// token endpoint with a freshly signed ID token and a rotating refresh
// token, and serves userinfo, so the measure is Portcullis's own cost. It
// keeps count of refreshes, and of refresh tokens presented twice or
// access tokens used after they expired (GET /stats). Not for anything but
// benchmarks.
//
//   FAST_ACCESS_TTL=3600 node bench/fast-provider.mjs
//   (prints FAST_IDP_READY {"issuer":…})

import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
const codes = new Map();
const accessTtl = Number(process.env.FAST_ACCESS_TTL ?? 3600);
// access token → { user, expires }; refresh token → { user, used }
const accessTokens = new Map();
const refreshTokens = new Map();
const stats = { refreshes: 0, refreshTokensPresentedTwice: 0, unknownRefreshTokens: 0, expiredAccessTokensUsed: 0, userinfo: 0 };
const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
let issuer = '';

function sign(claims) {
  const input = `${b64({ alg: 'RS256', kid: 'k1', typ: 'JWT' })}.${b64(claims)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
}

function json(res, body, status = 200) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function form(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

function tokens(user) {
  const access = randomBytes(24).toString('hex');
  const refresh = randomBytes(24).toString('hex');
  accessTokens.set(access, { user, expires: Date.now() + accessTtl * 1000 });
  refreshTokens.set(refresh, { user, used: false });
  return { access_token: access, refresh_token: refresh, token_type: 'Bearer', expires_in: accessTtl };
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/.well-known/openid-configuration') {
    return json(res, {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      userinfo_endpoint: `${issuer}/userinfo`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
  }
  if (url.pathname === '/jwks') return json(res, { keys: [jwk] });
  if (url.pathname === '/stats') return json(res, stats);
  if (url.pathname === '/userinfo') {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /i, '');
    const grant = accessTokens.get(token);
    if (!grant) return json(res, { error: 'invalid_token' }, 401);
    if (grant.expires < Date.now()) {
      stats.expiredAccessTokensUsed += 1;
      return json(res, { error: 'invalid_token' }, 401);
    }
    stats.userinfo += 1;
    return json(res, { sub: `user-${grant.user}`, name: 'Bench User', email: `${grant.user}@bench.test`, email_verified: true });
  }
  if (url.pathname === '/authorize') {
    const code = randomBytes(16).toString('hex');
    const user = randomBytes(6).toString('hex');
    codes.set(code, { nonce: url.searchParams.get('nonce'), user });
    const back = new URL(url.searchParams.get('redirect_uri'));
    back.searchParams.set('code', code);
    back.searchParams.set('state', url.searchParams.get('state'));
    res.writeHead(303, { location: back.toString() });
    return res.end();
  }
  if (url.pathname === '/token' && req.method === 'POST') {
    const params = await form(req);
    if (params.get('grant_type') === 'refresh_token') {
      const held = refreshTokens.get(params.get('refresh_token'));
      if (!held) {
        stats.unknownRefreshTokens += 1;
        return json(res, { error: 'invalid_grant' }, 400);
      }
      if (held.used) {
        stats.refreshTokensPresentedTwice += 1;
        return json(res, { error: 'invalid_grant' }, 400);
      }
      held.used = true;
      stats.refreshes += 1;
      return json(res, tokens(held.user));
    }
    const grant = codes.get(params.get('code'));
    codes.delete(params.get('code'));
    if (!grant) return json(res, { error: 'invalid_grant' }, 400);
    const now = Math.floor(Date.now() / 1000);
    return json(res, {
      ...tokens(grant.user),
      id_token: sign({
        iss: issuer, sub: `user-${grant.user}`, aud: 'bench', exp: now + 300, iat: now,
        nonce: grant.nonce, name: 'Bench User', email: `${grant.user}@bench.test`, email_verified: true,
      }),
    });
  }
  res.writeHead(404);
  res.end();
});

server.listen(0, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  process.stdout.write(`FAST_IDP_READY ${JSON.stringify({ issuer })}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
