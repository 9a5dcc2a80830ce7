/**
 * Tools that need Node 22 (the MCP Inspector CLI, the conformance suite), fetched from the npm
 * registry with `npx -p node@22` and run as child processes, each in its own process group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { homedir, tmpdir } from 'node:os';
import { afterAll, afterEach } from 'vitest';

export const NODE_22 = 'node@22.23.3';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

const children = new Set<ChildProcess>();

function killGroup(child: ChildProcess): void {
  try {
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** Runs a command in its own process group; kills the whole group after `timeoutMs`. */
export function run(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd ?? tmpdir(), env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => killGroup(child), opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      children.delete(child);
      reject(new Error(`cannot start ${cmd}: ${err.message}`)); // not err itself: its spawnargs hold the token
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr, ms: Math.round(performance.now() - started) });
    });
  });
}

function killAll(): void {
  for (const c of children) killGroup(c);
}
afterEach(killAll);
afterAll(killAll);

/** The environment npx needs: PATH, the real HOME (~/.npmrc, ~/.npm), npm settings and proxies. */
export function npxEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME ?? homedir() };
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_config_|https?_proxy$|no_proxy$)/i.test(k) && !/^npm_config_(local_prefix|prefix)$/i.test(k)) env[k] = v;
  }
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', npm_config_loglevel: 'error' };
}

/** Installs (first time) or finds (later) Node 22 and `pkg`, and returns the paths of node and `bin`. */
export async function resolveNode22Tool(pkg: string, bin: string): Promise<{ node: string; tool: string; version: string }> {
  const r = await run('npx', ['-y', '-p', NODE_22, '-p', pkg, 'sh', '-c', `command -v node && command -v ${bin} && node --version`], {
    env: npxEnv(),
    timeoutMs: 170_000,
  });
  const [node, tool, version] = r.stdout.trim().split('\n');
  if (r.code !== 0 || !node?.startsWith('/') || !tool?.startsWith('/') || !version) {
    throw new Error(`npx could not provide ${NODE_22} and ${pkg} (exit ${r.code ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
  return { node, tool, version };
}
