// A TLS front for a Portcullis server in the browser tests, as a
// production proxy would be: https on its own port with the test
// certificate (a self-signed one for 127.0.0.1), everything passed on to
// the plain-http server with the host the browser used in
// X-Forwarded-Host. Bodies stream both ways.

import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../server/tests/fixtures');

/** Listens on 127.0.0.1:`port` and forwards to 127.0.0.1:`upstreamPort`; resolves to the server. */
export function startTlsProxy(port, upstreamPort) {
  const server = createServer(
    {
      key: readFileSync(path.join(fixtures, 'self-signed-key.pem')),
      cert: readFileSync(path.join(fixtures, 'self-signed-cert.pem')),
    },
    (req, res) => {
      const upstream = httpRequest(
        {
          host: '127.0.0.1',
          port: upstreamPort,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, 'x-forwarded-host': req.headers.host, 'x-forwarded-proto': 'https' },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      req.pipe(upstream);
    },
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
