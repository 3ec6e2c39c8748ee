// Starts the local identity provider, the fake GitHub and the Portcullis
// server (built by `cargo leptos build`) on free loopback ports, and stops
// them all when the run ends. Two runs at once never collide.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startTlsProxy } from '../lib/tls-proxy.mjs';
import { createServer } from 'node:net';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The notes API's resource indicator (RFC 8707) at the local provider. */
const NOTES_RESOURCE = 'https://notes-api.portcullis.test';
const root = path.resolve(here, '../..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function targetDirectory(): string {
  const metadata = JSON.parse(
    execFileSync('cargo', ['metadata', '--no-deps', '--format-version', '1'], { cwd: root, encoding: 'utf8' }),
  );
  return metadata.target_directory;
}

function serverBinary(): string {
  if (process.env.PORTCULLIS_SERVER_BIN) return process.env.PORTCULLIS_SERVER_BIN;
  return path.join(targetDirectory(), 'debug', 'server');
}

/** The embedding example (server/examples/embed.rs), built now. */
function embedBinary(): string {
  execFileSync('cargo', ['build', '-q', '-p', 'portcullis', '--example', 'embed'], { cwd: root, stdio: 'inherit' });
  return path.join(targetDirectory(), 'debug', 'examples', 'embed');
}

/// Resolves with the first stdout line starting with `prefix`. The services
/// get a minute each, as in the Rust suite: on a loaded two-core machine
/// node-oidc-provider has taken over 15 s to start.
function waitForLine(child: ChildProcess, prefix: string, what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split('\n')) {
        if (line.startsWith(prefix)) {
          clearTimeout(timer);
          resolve(line.slice(prefix.length));
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited early with code ${code}`));
    });
  });
}

async function waitForHttp(url: string, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not answer ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const stopping = new WeakSet<ChildProcess>();

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return Promise.resolve();
  stopping.add(child);
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export default async function globalSetup() {
  const appPort = await freePort();
  const appUrl = `http://127.0.0.1:${appPort}`;
  // A second server behind a TLS proxy, for what only https shows
  // (`Secure` and `__Host-` cookies).
  const tlsPort = await freePort();
  const tlsAppPort = await freePort();
  const httpsUrl = `https://127.0.0.1:${tlsPort}`;
  // The embedding example: a plain Axum app with Portcullis mounted.
  const embedPort = await freePort();
  const embedUrl = `http://127.0.0.1:${embedPort}`;
  // An app whose provider is on another site (localhost) and answers with
  // response_mode=form_post: its callback is a cross-site POST.
  const formPostPort = await freePort();
  const formPostUrl = `http://127.0.0.1:${formPostPort}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'portcullis-e2e-'));
  // The canary hunt's inputs: the tokens the provider issued, and every
  // line the server logged.
  const canaryFile = path.join(dataDir, 'issued-tokens.txt');
  const serverLog = path.join(dataDir, 'server.log');
  writeFileSync(canaryFile, '');
  writeFileSync(serverLog, '');
  let localIssuer = '';
  let idp: ChildProcess | undefined;
  let crossSiteIdp: ChildProcess | undefined;
  let formPostApp: ChildProcess | undefined;
  let github: ChildProcess | undefined;
  let notes: ChildProcess | undefined;
  let app: ChildProcess | undefined;
  let embed: ChildProcess | undefined;
  let tlsApp: ChildProcess | undefined;
  let tlsProxy: import('node:https').Server | undefined;
  const teardown = async () => {
    tlsProxy?.close();
    tlsProxy?.closeAllConnections();
    await stop(tlsApp);
    await stop(formPostApp);
    await stop(crossSiteIdp);
    await stop(embed);
    await stop(app);
    await stop(github);
    await stop(notes);
    await stop(idp);
  };

  try {
    idp = spawn(process.execPath, [path.join(here, '../identity-provider/server.mjs')], {
      env: {
        ...process.env,
        IDP_PORT: '0',
        IDP_REDIRECT_URIS: `${appUrl}/auth/callback/local,${httpsUrl}/auth/callback/local,${embedUrl}/auth/callback/local`,
        IDP_POST_LOGOUT_REDIRECT_URIS: `${appUrl}/auth/logged-out,${httpsUrl}/auth/logged-out`,
        IDP_BACKCHANNEL_LOGOUT_URI: `${appUrl}/auth/backchannel/local`,
        IDP_ACCESS_TOKEN_TTL: process.env.IDP_ACCESS_TOKEN_TTL ?? '5',
        IDP_CANARY_FILE: canaryFile,
        // Lets a test rotate the provider's signing keys mid-run.
        IDP_TEST_CONTROLS: '1',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const ready = JSON.parse(await waitForLine(idp, 'IDP_READY ', 'the identity provider', 60_000));
    localIssuer = ready.issuer;

    crossSiteIdp = spawn(process.execPath, [path.join(here, '../identity-provider/server.mjs')], {
      env: {
        ...process.env,
        IDP_PORT: '0',
        IDP_HOST: 'localhost',
        IDP_REDIRECT_URIS: `${formPostUrl}/auth/callback/local`,
        IDP_POST_LOGOUT_REDIRECT_URIS: `${formPostUrl}/auth/logged-out`,
        IDP_BACKCHANNEL_LOGOUT_URI: '',
        IDP_CANARY_FILE: canaryFile,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const crossSite = JSON.parse(
      await waitForLine(crossSiteIdp, 'IDP_READY ', 'the cross-site identity provider', 60_000),
    );

    github = spawn(process.execPath, [path.join(here, '../fake-github/server.mjs')], {
      env: {
        ...process.env,
        FAKE_GITHUB_PORT: '0',
        FAKE_GITHUB_REDIRECT_URIS: `${appUrl}/auth/callback/github`,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const githubReady = JSON.parse(await waitForLine(github, 'FAKE_GITHUB_READY ', 'the fake GitHub', 60_000));

    // An API of the app's own, which the profile page calls through the proxy.
    notes = spawn(process.execPath, [path.join(here, '../notes-api/server.mjs')], {
      env: {
        ...process.env,
        NOTES_API_PORT: '0',
        NOTES_API_ISSUER: ready.issuer,
        // Only tokens meant for the notes API (RFC 8707), with its scopes.
        NOTES_API_RESOURCE: NOTES_RESOURCE,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const notesReady = JSON.parse(await waitForLine(notes, 'NOTES_API_READY ', 'the notes API', 60_000));

    const vaultKey = process.env.TOKEN_ENCRYPTION_KEYS ?? `e2e:${randomBytes(32).toString('base64')}`;
    const portcullis = async (port: number, publicUrl: string, db: string, extra: Record<string, string>) => {
      const child = spawn(serverBinary(), [], {
        cwd: root,
        env: {
          ...process.env,
          // Everything our crates log, so the canary hunt sees it all.
          RUST_LOG: process.env.RUST_LOG ?? 'warn,server=trace,app=trace',
          LEPTOS_OUTPUT_NAME: 'portcullis',
          LEPTOS_SITE_ROOT: path.join(root, 'target/site'),
          LEPTOS_SITE_PKG_DIR: 'pkg',
          LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
          LEPTOS_RELOAD_PORT: String(await freePort()),
          APP_PUBLIC_URL: publicUrl,
          LOCAL_LABEL: 'Local demo provider',
          LOCAL_ISSUER: ready.issuer,
          LOCAL_CLIENT_ID: 'portcullis-dev',
          LOCAL_CLIENT_SECRET: 'portcullis-dev-secret',
          DATABASE_URL: `sqlite://${path.join(dataDir, db)}`,
          // A vault key of this run: the store is a file.
          TOKEN_ENCRYPTION_KEYS: vaultKey,
          ...extra,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      for (const stream of [child.stdout!, child.stderr!]) {
        stream.on('data', (chunk: Buffer) => appendFileSync(serverLog, chunk));
      }
      child.on('exit', (code, signal) => {
        if (!stopping.has(child)) console.error(`portcullis server exited early (code ${code}, signal ${signal})`);
      });
      return child;
    };
    app = await portcullis(appPort, appUrl, 'portcullis.db', {
      AUTH_PROVIDERS: 'local,github',
      GITHUB_ISSUER: githubReady.url,
      GITHUB_API_URL: `${githubReady.url}/api/v3`,
      GITHUB_CLIENT_ID: 'portcullis-dev-github',
      GITHUB_CLIENT_SECRET: 'portcullis-dev-github-secret',
      REMOTE_APIS: 'notes',
      API_NOTES_URL: notesReady.url,
      // The notes API trusts the local provider's tokens only.
      API_NOTES_PROVIDER: 'local',
      API_NOTES_RESOURCE: NOTES_RESOURCE,
      API_NOTES_SCOPES: 'notes:read notes:write',
    });
    tlsApp = await portcullis(tlsAppPort, httpsUrl, 'portcullis-https.db', { AUTH_PROVIDERS: 'local' });
    formPostApp = await portcullis(formPostPort, formPostUrl, 'portcullis-form-post.db', {
      AUTH_PROVIDERS: 'local',
      LOCAL_ISSUER: crossSite.issuer,
      LOCAL_RESPONSE_MODE: 'form_post',
    });
    embed = spawn(embedBinary(), [], {
      cwd: root,
      env: {
        ...process.env,
        RUST_LOG: process.env.RUST_LOG ?? 'warn,portcullis=trace',
        EMBED_ADDR: `127.0.0.1:${embedPort}`,
        APP_PUBLIC_URL: embedUrl,
        AUTH_PROVIDERS: 'local',
        LOCAL_LABEL: 'Local demo provider',
        LOCAL_ISSUER: ready.issuer,
        LOCAL_CLIENT_ID: 'portcullis-dev',
        LOCAL_CLIENT_SECRET: 'portcullis-dev-secret',
        DATABASE_URL: `sqlite://${path.join(dataDir, 'embed.db')}`,
        TOKEN_ENCRYPTION_KEYS: vaultKey,
        REMOTE_APIS: 'notes',
        API_NOTES_URL: notesReady.url,
        API_NOTES_PROVIDER: 'local',
        API_NOTES_RESOURCE: NOTES_RESOURCE,
        API_NOTES_SCOPES: 'notes:read notes:write',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [embed.stdout!, embed.stderr!]) {
      stream.on('data', (chunk: Buffer) => appendFileSync(serverLog, chunk));
    }
    tlsProxy = await startTlsProxy(tlsPort, tlsAppPort);
    await waitForHttp(`http://127.0.0.1:${tlsAppPort}/healthz`, 'the Portcullis server behind TLS', 60_000);
    await waitForHttp(`${appUrl}/healthz`, 'the Portcullis server', 60_000);
    await waitForHttp(`${embedUrl}/healthz`, 'the embedding example', 60_000);
    await waitForHttp(`${formPostUrl}/healthz`, 'the Portcullis server with a form_post provider', 60_000);
  } catch (err) {
    await teardown();
    throw err;
  }

  process.env.PORTCULLIS_URL = appUrl;
  process.env.PORTCULLIS_HTTPS_URL = httpsUrl;
  process.env.PORTCULLIS_EMBED_URL = embedUrl;
  process.env.PORTCULLIS_FORM_POST_URL = formPostUrl;
  process.env.PORTCULLIS_CANARY_FILE = canaryFile;
  process.env.PORTCULLIS_SERVER_LOG = serverLog;
  process.env.PORTCULLIS_IDP = localIssuer;
  return teardown;
}
