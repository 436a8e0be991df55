import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Baseline "limit": the least work any Node server can do for the REST projects read. A raw `node:http`
 * server answering every request with the gateway's own cached answer, serialized once at start. No
 * routing, no validation, no logging: whatever the gateway spends beyond this is its own cost.
 *
 * Env: BENCH_BODY_FILE (the body to answer), BENCH_CONTENT_TYPE (default application/json).
 */
const body = readFileSync(process.env.BENCH_BODY_FILE ?? '', { encoding: null });
const headers = {
  'content-type': process.env.BENCH_CONTENT_TYPE ?? 'application/json; charset=utf-8',
  'content-length': String(body.length),
};

const server = createServer((req, res) => {
  // Drain any request body first, as a real server must, then answer the pre-serialized bytes.
  req.resume();
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`limit server listening on http://127.0.0.1:${port}`);
});
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
