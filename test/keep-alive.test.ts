/**
 * Keep-alive behind a load balancer: the server must not close an idle connection before the
 * balancer does (its idle timeout is commonly 60 s), or the balancer sends a request into a
 * closing socket and answers 502. HTTP_KEEP_ALIVE_TIMEOUT_MS sets it (default 65 s); the
 * slow-loris bounds on a request (headersTimeout, requestTimeout) stay short, because they count
 * from a request's first byte, not from when the connection went idle.
 */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/server-config.js';
import { createLogger } from '../src/log.js';
import { startNodeServer, type NodeServerTimeouts } from '../src/node.js';
import { PUBLIC_URL, SECRETS } from './support/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(env: Record<string, string>, timeouts: Partial<NodeServerTimeouts> = {}) {
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', PUBLIC_URL, AUTH_JWT_SECRET: SECRETS.jwtSecret, ...env });
  return startNodeServer(config, { logger: createLogger(() => {}) }, timeouts);
}

describe('HTTP_KEEP_ALIVE_TIMEOUT_MS', () => {
  it('defaults to 65 s, above common load-balancer idle timeouts', async () => {
    const running = await start({});
    try {
      expect((running.server as http.Server).keepAliveTimeout).toBe(65_000);
    } finally {
      await running.close(100);
    }
  });

  it('sets the server keepAliveTimeout, and a bad value stops start-up naming the variable', async () => {
    const running = await start({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '120000' });
    try {
      expect((running.server as http.Server).keepAliveTimeout).toBe(120_000);
    } finally {
      await running.close(100);
    }
    expect(() => loadConfig({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '0' })).toThrow(/Invalid HTTP_KEEP_ALIVE_TIMEOUT_MS: .*idle timeout/);
  });

  it('an idle connection outlives headersTimeout and requestTimeout and is reused; it closes after the keep-alive timeout', async () => {
    const running = await start({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '2500' }, { headersTimeout: 300, requestTimeout: 600, connectionsCheckingInterval: 100 });
    const server = running.server as http.Server;
    let connections = 0;
    server.on('connection', () => connections++);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const healthz = () =>
      new Promise<{ status: number; socket: import('node:net').Socket }>((resolve, reject) => {
        const req = http.get(`${running.url}/healthz`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, socket: req.socket! }));
        });
        req.on('error', reject);
      });
    try {
      const first = await healthz();
      await sleep(1000); // idle longer than headersTimeout + requestTimeout, shorter than keepAliveTimeout
      const second = await healthz();
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(connections).toBe(1);
      const closed = new Promise<void>((r) => second.socket.once('close', () => r()));
      const idleSince = Date.now();
      await closed;
      expect(Date.now() - idleSince).toBeGreaterThanOrEqual(2000);
    } finally {
      agent.destroy();
      await running.close(100);
    }
  });
});
