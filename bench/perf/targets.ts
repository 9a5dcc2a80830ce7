/**
 * The targets as child processes: each bench server (bench/servers/*.ts) is forked with
 * `--import tsx` in its own process group, reports ready over IPC, and answers stats and
 * profile requests over that channel (never over HTTP, so the measured route is all its HTTP
 * stack sees). Every child is killed when the driver exits, however it exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { isAbsolute, join } from 'node:path';
import type { ChildMessage, ParentMessage, ProcStats } from '../servers/common.js';
import { ISSUER, JWT_SECRET, PORTKEY_API_KEY, PUBLIC_URL, type Fixtures } from './fixtures.js';
import { isFloor, type TargetName } from './names.js';
import { repo } from './results-dir.js';

const serversDir = join(repo, 'bench/servers');

const live = new Set<Proc>();

export class Proc {
  readonly pid: number;
  port = 0;
  private stderrTail = '';
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (m: ChildMessage) => void; reject: (e: Error) => void }>();
  private exited = false;
  readonly exit: Promise<number | null>;

  private constructor(readonly name: string, private readonly child: ChildProcess) {
    this.pid = child.pid!;
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000);
    });
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exited = true;
        live.delete(this);
        for (const w of this.waiting.values()) w.reject(new Error(`${name} exited (${code ?? signal}) ${this.tail()}`));
        this.waiting.clear();
        resolve(code);
      }),
    );
    child.on('message', (raw) => {
      const m = raw as ChildMessage;
      if (m.type === 'ready') return;
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      w.resolve(m);
    });
  }

  /** Forks a bench server (stdout to /dev/null, stderr kept for errors) in its own process group. */
  static start(name: string, script: string, env: Record<string, string>, execArgv: string[] = []): Promise<Proc> {
    const child = fork(isAbsolute(script) ? script : join(serversDir, script), [], {
      execArgv: ['--import', 'tsx', ...execArgv],
      env: { ...process.env, NODE_ENV: 'production', ...env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      detached: true,
      cwd: isAbsolute(script) ? join(script, '../../..') : repo,
    });
    const proc = new Proc(name, child);
    live.add(proc);
    return new Promise<Proc>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill();
        reject(new Error(`${name} did not start within 30 s ${proc.tail()}`));
      }, 30_000);
      child.on('message', (raw) => {
        const m = raw as ChildMessage;
        if (m.type === 'ready') {
          clearTimeout(timer);
          proc.port = m.port;
          resolve(proc);
        }
      });
      void proc.exit.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before it was ready ${proc.tail()}`));
      });
    });
  }

  tail(): string {
    return this.stderrTail ? `\n--- ${this.name} stderr ---\n${this.stderrTail.trim()}\n---` : '';
  }

  private request(message: ParentMessage, timeoutMs = 20_000): Promise<ChildMessage> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited ${this.tail()}`));
    return new Promise<ChildMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(message.id);
        reject(new Error(`${this.name}: no answer to ${message.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(message.id, {
        resolve: (m) => (clearTimeout(timer), resolve(m)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.child.send(message);
    });
  }

  async stats(gc = false): Promise<ProcStats> {
    const m = await this.request({ type: 'stats', id: this.nextId++, gc });
    if (m.type !== 'stats') throw new Error(`${this.name}: unexpected answer ${m.type}`);
    const { type: _t, id: _i, ...stats } = m;
    return stats;
  }

  /** In-process V8 CPU profile of the main thread, started and stopped around the measured window. */
  async profile(action: 'start' | 'stop', file?: string): Promise<void> {
    const m = await this.request({ type: 'profile', id: this.nextId++, action, ...(file ? { file } : {}) }, 60_000);
    if (m.type !== 'profile' || !m.ok) throw new Error(`${this.name}: profile ${action} failed: ${m.type === 'profile' ? m.error : m.type}`);
  }

  /** SIGKILL to the whole process group. */
  kill(): void {
    if (this.exited) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      try {
        this.child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  async stop(): Promise<void> {
    this.kill();
    await this.exit;
  }
}

export function killAllSync(): void {
  for (const p of live) p.kill();
}

/** Kills every child on any exit of the driver: normal, signal, or uncaught error. */
export function killChildrenOnExit(): void {
  process.on('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping every bench process\n`);
      killAllSync();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`uncaught: ${err.stack ?? err}\n`);
    killAllSync();
    process.exit(1);
  });
}

export function targetEnv(target: TargetName, auth: 'hs256' | 'rs256', stubUrl: string, fx: Fixtures, jwksLabel: string): Record<string, string> {
  const env: Record<string, string> = { PORT: '0', PUBLIC_URL, PORTKEY_BASE_URL: stubUrl, PORTKEY_API_KEY };
  if (auth === 'rs256' && !isFloor(target)) {
    env.AUTH_JWKS_URL = `${fx.jwks.url}/jwks/${jwksLabel}`;
    env.AUTH_ISSUER = ISSUER;
  } else {
    env.AUTH_JWT_SECRET = JWT_SECRET;
  }
  return env;
}

export async function startStub(): Promise<{ proc: Proc; url: string }> {
  const proc = await Proc.start('portkey-stub', 'portkey-stub.ts', { PORT: '0' });
  return { proc, url: `http://127.0.0.1:${proc.port}/v1` };
}
