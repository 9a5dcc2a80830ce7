/**
 * A stdout nobody reads (issue 26): the server keeps serving, and what waits for the reader is
 * bounded, with a count of what was dropped once the reader is back.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { batchedStdout } from '../src/node/stdout.js';
import { SECRETS, freePort } from './support/harness.js';

const entry = fileURLToPath(new URL('../src/node.ts', import.meta.url));
const tsx = fileURLToPath(import.meta.resolve('tsx'));
const tick = () => new Promise((r) => setImmediate(r));

describe('the log writer', () => {
  it('past the bound, lines are dropped and counted, and the first line written after says how many', async () => {
    const written: string[] = [];
    const sink = Object.assign(new EventEmitter(), {
      writableLength: 0,
      write(text: string) {
        written.push(text);
        return true;
      },
    });
    const out = batchedStdout(sink, 1000);
    out.write('{"a":1}');
    await tick();
    sink.writableLength = 5000; // the reader fell behind
    for (let i = 0; i < 10; i++) out.write(`{"lost":${i}}`);
    await tick();
    out.write('{"lost":10}');
    await tick();
    sink.writableLength = 0; // caught up
    out.write('{"b":2}');
    await tick();
    const lines = written.join('').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.event ?? Object.keys(l)[0])).toEqual(['a', 'log.lines_dropped', 'b']);
    expect(lines[1]).toMatchObject({ level: 'warn', lines: 11 });
  });
});

describe('a server whose stdout is a socket nobody reads (a Node parent\'s pipe)', () => {
  it('keeps serving (the event loop never blocks in write), and writes JSON lines only', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', tsx, entry], {
      env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', PORT: String(port), AUTH_JWT_SECRET: SECRETS.jwtSecret, PUBLIC_URL: 'http://mcp.test', LOG_LEVEL: 'debug' },
      stdio: ['ignore', 'pipe', 'ignore'],
      detached: true,
    });
    try {
      // stdout is never read until the end: the pipe (64 KiB) fills within the first requests.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error('server did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
      // Requests with long, logged (debug) paths: megabytes of log lines for an unread pipe.
      const long = 'x'.repeat(1500);
      for (let round = 0; round < 40; round++) {
        const started = Date.now();
        const statuses = await Promise.all(
          Array.from({ length: 50 }, () => fetch(`http://127.0.0.1:${port}/nothing-${long}`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.status)),
        );
        expect(statuses.every((s) => s === 404)).toBe(true);
        expect(Date.now() - started).toBeLessThan(5_000);
      }
      expect((await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) })).status).toBe(200);
    } finally {
      let text = '';
      child.stdout!.on('data', (d) => (text += d));
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid!, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      await exited;
      expect(text.split('\n').filter((l) => l.trim() && !l.startsWith('{'))).toEqual([]);
    }
  });
});
