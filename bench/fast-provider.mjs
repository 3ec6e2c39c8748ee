// A fast scripted OpenID provider for the login-throughput benchmark: it
// approves every authorization request at once and answers the token
// endpoint with a freshly signed ID token, so the measure is Portcullis's
// own cost per login. Not for anything but benchmarks.
//
//   node bench/fast-provider.mjs   (prints FAST_IDP_READY {"issuer":…})

import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
const codes = new Map();
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

const server = createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/.well-known/openid-configuration') {
    return json(res, {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
  }
  if (url.pathname === '/jwks') return json(res, { keys: [jwk] });
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
    const grant = codes.get(params.get('code'));
    codes.delete(params.get('code'));
    if (!grant) return json(res, { error: 'invalid_grant' }, 400);
    const now = Math.floor(Date.now() / 1000);
    return json(res, {
      access_token: randomBytes(24).toString('hex'),
      token_type: 'Bearer',
      expires_in: 3600,
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
