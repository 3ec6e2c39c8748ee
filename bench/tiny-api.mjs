// The upstream for the API proxy's benchmark: answers GET /ping with a small
// JSON body to any request that carries a bearer token (401 otherwise), as
// cheaply as node can, so what is measured is the proxy, not the API.
//
//   node bench/tiny-api.mjs    prints TINY_API_READY {"url":"http://127.0.0.1:NNNNN"}

import { createServer } from 'node:http';

const body = JSON.stringify({ ok: true, notes: ['one', 'two', 'three'] });
const server = createServer((req, res) => {
  if (!/^Bearer \S+$/.test(req.headers.authorization ?? '')) {
    res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`TINY_API_READY ${JSON.stringify({ url: `http://127.0.0.1:${port}` })}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
