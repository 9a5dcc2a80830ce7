/**
 * The official MCP conformance suite (@modelcontextprotocol/conformance, run with Node 22 through
 * npx) against the real server. The suite cannot send an Authorization header, and the server has
 * no way to switch authentication off, so the suite talks to test/support/auth-proxy.ts, which
 * adds a valid bearer token and forwards everything else as sent (Host and Origin included).
 *
 * Every server scenario the suite has is run, in one process (a few seconds). Those that do not
 * apply to a tools-only, stateless, JSON-response server are listed, each with its reason, in
 * test/conformance-expected-failures.txt; every other scenario must pass, and a listed one that
 * starts passing fails the test so that the file stays honest.
 *
 * dns-rebinding-protection sends two `initialize` requests straight to the URL: one with
 * `Host: evil.example.com` and `Origin: http://evil.example.com` (expects a 4xx), one with the
 * URL's own `Host: 127.0.0.1:<port>` and `Origin: http://127.0.0.1:<port>` (expects a 2xx). A
 * loopback-bound server accepts loopback hosts and origins and refuses others, with no setting.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthProxy, type AuthProxy } from './support/auth-proxy.js';
import { freePort, observed, SECRETS, startTestServer, token, type TestServer } from './support/harness.js';
import { NODE_22, resolveNode22Tool, run, type RunResult } from './support/node22.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

const SUITE = '@modelcontextprotocol/conformance@0.1.16';
const EXPECTED_FAILURES_FILE = fileURLToPath(new URL('./conformance-expected-failures.txt', import.meta.url));

/** The scenarios this server must pass whatever the file says. */
const MUST_PASS = ['server-initialize', 'ping', 'tools-list', 'tools-call-error', 'dns-rebinding-protection'];

// ---------------------------------------------------------------------------------------------
// Child processes: own process group each, killed by group if still running after a test.
// ---------------------------------------------------------------------------------------------

async function resolveSuite(): Promise<{ node: string; conformance: string; version: string }> {
  const { node, tool, version } = await resolveNode22Tool(SUITE, 'conformance');
  return { node, conformance: tool, version };
}

// ---------------------------------------------------------------------------------------------
// The suite's results and the expected-failures file
// ---------------------------------------------------------------------------------------------

interface Check {
  id: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | string;
  description?: string;
  errorMessage?: string;
  details?: Record<string, unknown>;
}

/** `<scenario>  <reason>` lines; `#` starts a comment line. */
function readExpectedFailures(path: string): Map<string, string> {
  const entries = new Map<string, string>();
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '' || line.trimStart().startsWith('#')) return;
      const m = /^(\S+) {2,}(\S.*)$/.exec(line.trimEnd());
      if (!m) throw new Error(`${path}:${i + 1}: expected "<scenario>  <why it does not apply>", got ${JSON.stringify(line)}`);
      if (entries.has(m[1]!)) throw new Error(`${path}:${i + 1}: ${m[1]} is listed twice`);
      entries.set(m[1]!, m[2]!);
    });
  return entries;
}

/** `-o DIR` leaves one `server-<scenario>-<ISO timestamp>/checks.json` per scenario. */
function readResults(dir: string): Map<string, Check[]> {
  const results = new Map<string, Check[]>();
  for (const name of readdirSync(dir)) {
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/.exec(name);
    if (!m) continue;
    results.set(m[1]!, JSON.parse(readFileSync(join(dir, name, 'checks.json'), 'utf8')) as Check[]);
  }
  return results;
}

/** Passing: at least one SUCCESS and no FAILURE (warnings and info alone prove nothing). */
function passes(checks: Check[]): boolean {
  return checks.some((c) => c.status === 'SUCCESS') && !checks.some((c) => c.status === 'FAILURE');
}

/** A "pass" that rests only on the server saying the suite's test tool does not exist. */
function passesOnlyByUnknownTool(checks: Check[]): boolean {
  const successes = checks.filter((c) => c.status === 'SUCCESS');
  return (
    successes.length > 0 &&
    successes.every((c) => {
      const result = c.details?.result as { isError?: boolean; content?: { text?: string }[] } | undefined;
      return result?.isError === true && /^MCP error -32602: Tool \S+ not found$/.test(result.content?.[0]?.text ?? '');
    })
  );
}

function summary(name: string, checks: Check[] | undefined): string {
  if (!checks) return `${name}: no result`;
  return [
    `${name}:`,
    ...checks.map((c) => `  ${c.status} ${c.id}${c.errorMessage ? ` — ${c.errorMessage}` : ''}${c.details ? ` ${JSON.stringify(c.details).slice(0, 600)}` : ''}`),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The suite against the server
// ---------------------------------------------------------------------------------------------

describe(`MCP conformance suite (${SUITE}, ${NODE_22}) against the real server, through the auth proxy`, () => {
  const expectedFailures = readExpectedFailures(EXPECTED_FAILURES_FILE);
  let portkey: PortkeyDouble;
  let server: TestServer;
  let proxy: AuthProxy;
  let bearer: string;
  let outDir: string;
  let suiteRun: RunResult;
  let results: Map<string, Check[]>;

  beforeAll(async () => {
    const bins = await resolveSuite();
    expect(bins.version).toMatch(/^v22\./);
    portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
    const proxyPort = await freePort();
    server = await startTestServer({
      PORTKEY_API_KEY: SECRETS.portkeyKey,
      PORTKEY_BASE_URL: portkey.url,
    });
    bearer = await token();
    proxy = await startAuthProxy({ target: server.url, token: bearer, port: proxyPort });
    outDir = mkdtempSync(join(tmpdir(), 'pim-conformance-'));
    suiteRun = await run(bins.node, [bins.conformance, 'server', '--url', `${proxy.url}/mcp`, '--suite', 'all', '-o', outDir], {
      env: { PATH: process.env.PATH, HOME: outDir, NO_COLOR: '1' },
      timeoutMs: 120_000,
    });
    observed.responses.push(suiteRun.stdout, suiteRun.stderr); // setup.ts fails the file if the token shows up
    results = readResults(outDir);
  }, 240_000);

  afterAll(async () => {
    await proxy?.close();
    await server?.close(1_000);
    await portkey?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('ran every server scenario the suite has, to completion', () => {
    const announced = Number(/Running all suite \((\d+) scenarios\)/.exec(suiteRun.stdout)?.[1]);
    expect(suiteRun.stdout, suiteRun.stderr).toContain('=== SUMMARY ===');
    expect(announced).toBeGreaterThan(0);
    expect([...results.keys()]).toHaveLength(announced);
  });

  it.each(MUST_PASS)('%s passes', (name) => {
    expect(expectedFailures.has(name), `${name} must not be listed in conformance-expected-failures.txt`).toBe(false);
    const checks = results.get(name);
    expect(checks && passes(checks), summary(name, checks)).toBe(true);
  });

  it('every scenario not listed in conformance-expected-failures.txt passes', () => {
    const failing = [...results].filter(([name, checks]) => !expectedFailures.has(name) && !passes(checks));
    expect(failing.map(([name, checks]) => summary(name, checks)).join('\n')).toBe('');
  });

  it('every scenario listed in conformance-expected-failures.txt exists and still does not pass', () => {
    const unknown = [...expectedFailures.keys()].filter((name) => !results.has(name));
    expect(unknown, 'listed but not a scenario of this suite version: remove or rename').toEqual([]);
    const nowPassing = [...expectedFailures.keys()].filter((name) => {
      const checks = results.get(name)!;
      return passes(checks) && !passesOnlyByUnknownTool(checks);
    });
    expect(nowPassing, `listed in conformance-expected-failures.txt but passing now: remove them from the file`).toEqual([]);
  });

  it('dns-rebinding-protection: the Host and Origin the suite sent reached the server, and the foreign one got 403', () => {
    const evil = proxy.forwarded.filter((f) => f.host === 'evil.example.com');
    expect(evil).toEqual([{ method: 'POST', path: '/mcp', host: 'evil.example.com', origin: 'http://evil.example.com', status: 403 }]);
  });

  it('the suite never reached Portkey, and no token shows up in its output or result files', () => {
    expect(portkey.requests).toEqual([]);
    const files = readdirSync(outDir, { recursive: true, encoding: 'utf8' })
      .map((f) => join(outDir, f))
      .filter((f) => statSync(f).isFile());
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(readFileSync(file, 'utf8').includes(bearer), `token in ${file}`).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// The proxy itself (test support, but the suite's verdicts depend on it forwarding faithfully)
// ---------------------------------------------------------------------------------------------

interface Seen {
  method: string;
  url: string;
  rawHeaders: string[];
  headers: IncomingHttpHeaders;
  body: string;
}

function send(
  url: string,
  opts: { method?: string; path: string; headers?: Record<string, string | string[]>; body?: string },
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('auth-proxy (test support)', () => {
  let upstream: Server;
  let upstreamUrl: string;
  let proxy: AuthProxy;
  const seen: Seen[] = [];
  let releaseStream: () => void = () => {};

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, headers: req.headers, body });
        if (req.url === '/sse') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: first\n\n');
          new Promise<void>((r) => (releaseStream = r)).then(() => res.end('data: last\n\n'));
          return;
        }
        res.writeHead(418, 'I am a teapot', [
          ['content-type', 'application/json'],
          ['set-cookie', 'a=1'],
          ['set-cookie', 'b=2'],
          ['x-upstream', 'yes'],
        ].flat());
        res.end(JSON.stringify({ echoed: body }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    proxy = await startAuthProxy({ target: upstreamUrl, token: 'test-bearer' });
  });

  afterAll(async () => {
    await proxy.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  it('forwards method, path, query, Host, Origin, other headers and body as sent, replacing only Authorization', async () => {
    seen.length = 0;
    const res = await send(proxy.url, {
      method: 'PATCH',
      path: '/some/path?x=1&y=%20',
      headers: {
        Host: 'evil.example.com:1234',
        Origin: 'http://evil.example.com',
        Authorization: 'Bearer client-token',
        'X-Custom': 'one',
        'Content-Type': 'application/json',
        Connection: 'keep-alive, X-Hop',
        'X-Hop': 'dropped',
      },
      body: '{"a":1}',
    });
    expect(seen).toHaveLength(1);
    const got = seen[0]!;
    expect(got.method).toBe('PATCH');
    expect(got.url).toBe('/some/path?x=1&y=%20');
    expect(got.headers.host).toBe('evil.example.com:1234');
    expect(got.headers.origin).toBe('http://evil.example.com');
    expect(got.headers.authorization).toBe('Bearer test-bearer');
    expect(got.rawHeaders.filter((h) => h.toLowerCase() === 'authorization')).toHaveLength(1);
    expect(got.headers['x-custom']).toBe('one');
    expect(got.headers['x-hop']).toBeUndefined(); // named in Connection: hop-by-hop
    expect(got.body).toBe('{"a":1}');

    expect(res.status).toBe(418);
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(res.headers['x-upstream']).toBe('yes');
    expect(JSON.parse(res.body)).toEqual({ echoed: '{"a":1}' });
    expect(proxy.forwarded.at(-1)).toEqual({ method: 'PATCH', path: '/some/path?x=1&y=%20', host: 'evil.example.com:1234', origin: 'http://evil.example.com', status: 418 });
  });

  it('streams the response: an SSE event arrives before the upstream ends the stream', async () => {
    const res = await fetch(`${proxy.url}/sse`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const first = await Promise.race([reader.read(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('first event was buffered')), 5_000))]);
    expect(first.value).toBe('data: first\n\n');
    releaseStream();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += r.value;
    expect(rest).toBe('data: last\n\n');
  });

  it('answers 502 when the target cannot be reached', async () => {
    const dead = await startAuthProxy({ target: `http://127.0.0.1:${await freePort()}`, token: 'test-bearer' });
    try {
      const res = await send(dead.url, { path: '/mcp' });
      expect(res.status).toBe(502);
      expect(res.body).not.toContain('test-bearer');
    } finally {
      await dead.close();
    }
  });
});
