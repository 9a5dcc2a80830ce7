/**
 * The cheapest possible stand-in for Portkey's invite endpoint, for benchmarks only: plain
 * node:http, answers every request at once with 200 {"id", "invite_link"}, validates nothing
 * and keeps nothing. (test/support/portkey-double.ts is the faithful double; it records every
 * request and would grow without bound under load.)
 *   PORT=0 node --import tsx bench/servers/portkey-stub.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announceReady, envPort } from './common.js';

let n = 0;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const id = `inv-${(++n).toString(36)}`;
    const payload = `{"id":"${id}","invite_link":"https://app.portkey.ai/invite/${id}"}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    res.end(payload);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(envPort(), '127.0.0.1', () => announceReady('portkey-stub', (server.address() as AddressInfo).port));
