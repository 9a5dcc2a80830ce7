/**
 * A real Redis for the tests that need one: our own `redis-server` (Debian package redis-server)
 * on a free loopback port, with a password, no persistence, in its own process group; or the one
 * REDIS_URL names. Without either, those tests are skipped and say how to run them, unless
 * REQUIRE_REDIS_TESTS=1 (set by .ci/run), which makes a missing Redis a failure.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './harness.js';

export interface TestRedis {
  url: string;
  password: string;
  /** False for a Redis named by REDIS_URL: it cannot be stopped, so the outage tests skip. */
  own: boolean;
  /** Stops the server (SIGKILL to its group), as an outage would. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay up, nothing answers, as in a failover or a fork pause. */
  stall(): void;
  /** Thaws it (SIGCONT): it runs whatever reached it meanwhile. */
  resume(): void;
  /** Runs redis-cli as the default user (with the password), returning its output. */
  cli(...args: string[]): string;
  port: number;
  close(): Promise<void>;
}

function redisServerPath(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Why the Redis tests cannot run here; undefined when they can. */
export function redisUnavailable(): string | undefined {
  if (redisServerPath() || process.env.REDIS_URL) return undefined;
  const why = 'redis-server is not installed and REDIS_URL is not set, so the Redis tests (test/redis.test.ts) were skipped. To run them: apt-get install -y redis-server (or set REDIS_URL to a Redis of your own).';
  if (process.env.REQUIRE_REDIS_TESTS === '1') throw new Error(why);
  return why;
}

export async function startTestRedis(): Promise<TestRedis> {
  const given = process.env.REDIS_URL;
  if (given && !redisServerPath()) {
    const none = async () => {};
    const unsupported = () => {
      throw new Error('not with a Redis named by REDIS_URL');
    };
    return { url: given, password: new URL(given).password, own: false, kill: none, restart: none, close: none, stall: unsupported, resume: unsupported, cli: unsupported, port: Number(new URL(given).port) };
  }
  const password = `redis-pass-SECRET-${Math.random().toString(36).slice(2)}`;
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(redisServerPath()!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', password], {
      detached: true,
      stdio: 'ignore',
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--no-auth-warning', '-a', password, 'ping'], { stdio: 'pipe' });
        return;
      } catch {
        if (Date.now() > deadline) throw new Error('redis-server did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const kill = async () => {
    const c = child;
    if (!c?.pid || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    process.kill(-c.pid, 'SIGKILL');
    await exited;
  };
  const signal = (name: NodeJS.Signals) => {
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, name);
  };
  const cli = (...args: string[]) =>
    execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--no-auth-warning', '-a', password, ...args], { encoding: 'utf8' });
  const close = async () => {
    signal('SIGCONT');
    await kill();
  };
  await start();
  return {
    url: `redis://:${password}@127.0.0.1:${port}`,
    password,
    own: true,
    kill,
    restart: start,
    close,
    stall: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    cli,
    port,
  };
}
