// Signs in at a running Portcullis through the local identity provider's
// login and consent forms, the way a browser does, and prints the session
// cookie ("name=value"). Used by scripts/bench.sh.
//
//   node bench/sign-in.mjs http://127.0.0.1:3000 demo

const [appUrl, login = 'demo'] = process.argv.slice(2);
if (!appUrl) {
  console.error('usage: node bench/sign-in.mjs APP_URL [LOGIN]');
  process.exit(2);
}

const jar = new Map(); // host → Map(name → value)
function remember(url, response) {
  const host = new URL(url).host;
  const cookies = jar.get(host) ?? new Map();
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair.indexOf('=');
    cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  jar.set(host, cookies);
}
function cookieHeader(url) {
  const cookies = jar.get(new URL(url).host) ?? new Map();
  return [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
}
async function request(url, options = {}) {
  const response = await fetch(url, {
    ...options,
    redirect: 'manual',
    headers: { ...(options.headers ?? {}), cookie: cookieHeader(url) },
  });
  remember(url, response);
  return response;
}
/** Follows redirects until a page answers or the app's callback is next. */
async function follow(url) {
  for (let hops = 0; hops < 20; hops += 1) {
    const response = await request(url);
    const location = response.headers.get('location');
    if (!location) return { url, response };
    url = new URL(location, url).toString();
    if (url.startsWith(`${appUrl}/auth/callback/`)) return { url, response: null };
  }
  throw new Error(`too many redirects at ${url}`);
}

let step = await follow(`${appUrl}/auth/sign-in/local`);
if (step.response) {
  const form = new URLSearchParams({ prompt: 'login', login, password: 'any' });
  const posted = await request(step.url, { method: 'POST', body: form });
  step = await follow(new URL(posted.headers.get('location'), step.url).toString());
}
if (step.response) {
  const consent = await request(step.url, { method: 'POST', body: new URLSearchParams({ prompt: 'consent' }) });
  step = await follow(new URL(consent.headers.get('location'), step.url).toString());
}
if (!step.url.startsWith(`${appUrl}/auth/callback/`)) throw new Error(`no callback: ${step.url}`);
const back = await request(step.url);
if (back.status !== 303) throw new Error(`callback answered ${back.status}`);
const session = [...(jar.get(new URL(appUrl).host) ?? [])].find(([name]) => name.includes('portcullis'));
if (!session) throw new Error('no session cookie');
console.log(`${session[0]}=${session[1]}`);
