// Shared by the benchmarks: one complete sign-in at the fast scripted
// provider (start → provider → callback → session), as a browser makes it,
// and latency percentiles.

/** Signs in at APP_URL's provider "fast"; the session cookie. */
export async function signIn(appUrl) {
  let cookie = '';
  const go = async (url) => {
    const response = await fetch(url, { redirect: 'manual', headers: { cookie } });
    const set = response.headers.getSetCookie().find((c) => c.startsWith('portcullis='));
    if (set && url.startsWith(appUrl)) cookie = set.split(';')[0];
    return response.headers.get('location');
  };
  const toProvider = await go(`${appUrl}/auth/sign-in/fast`);
  const callback = await go(toProvider);
  const end = await go(new URL(callback, appUrl).toString());
  if (end !== '/') throw new Error(`sign-in ended at ${end}`);
  return cookie;
}

/** p50 and p99 of a list of milliseconds. */
export function percentiles(times) {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99) };
}
