/** Child processes for end-to-end tests: each in its own process group, all killed after each test. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

export const repo = fileURLToPath(new URL('../..', import.meta.url));

export interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) {
    try {
      if (c.exitCode === null && c.pid) process.kill(-c.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

export function startChild(cmd: string, args: string[], env: Record<string, string>, cwd = repo): Started {
  const child = spawn(cmd, args, {
    cwd,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env },
    detached: true, // own process group, so the whole tree can be stopped at once
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

export async function waitFor(predicate: () => boolean, what: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The token, URL and curl command the local-mode banner prints. */
export function banner(out: string) {
  const token = /Bearer token \(valid 1 hour\):\n(\S+)/.exec(out)?.[1];
  const url = /LOCAL MODE at (\S+)/.exec(out)?.[1];
  const curl = /List the tools:\n(curl .+)/.exec(out)?.[1];
  const inviteCurl = /Send an invite to the sandbox[^\n]*\n(curl .+)/.exec(out)?.[1];
  return { token: token!, url: url!, curl: curl!, inviteCurl };
}
