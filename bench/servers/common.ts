/**
 * Shared by every bench server process: the ready announcement and the stats channel.
 *
 * Stats travel over the IPC channel that `fork()` opens, never over HTTP, so the measured route
 * is the only thing the server's HTTP stack sees during a run. Started by hand (no IPC channel),
 * a server only prints its ready line.
 */

export interface ProcStats {
  /** process.cpuUsage(), microseconds since the process started. */
  cpu: NodeJS.CpuUsage;
  /** process.resourceUsage().maxRSS: the peak resident set size so far, in KiB. */
  maxRssKiB: number;
  /** process.memoryUsage() at the time of the sample, bytes. */
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Whether a GC was forced (needs --expose-gc) just before the sample. */
  gc: boolean;
}

export type ParentMessage =
  | { type: 'stats'; id: number; gc?: boolean }
  /** Starts the V8 CPU profiler (main thread), or stops it and writes the .cpuprofile to `file`. */
  | { type: 'profile'; id: number; action: 'start' | 'stop'; file?: string };
export type ChildMessage =
  | { type: 'ready'; name: string; port: number }
  | ({ type: 'stats'; id: number } & ProcStats)
  | { type: 'profile'; id: number; ok: boolean; error?: string };

function sample(gc: boolean): ProcStats {
  const collect = (globalThis as { gc?: () => void }).gc;
  const forced = gc && typeof collect === 'function';
  if (forced) {
    // Twice: the first pass can leave finalizer-reachable garbage for the second.
    collect!();
    collect!();
  }
  const m = process.memoryUsage();
  return {
    cpu: process.cpuUsage(),
    maxRssKiB: process.resourceUsage().maxRSS,
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    gc: forced,
  };
}

let session: import('node:inspector/promises').Session | undefined;

/** Only loaded when asked for: a server that is not profiled never touches the inspector. */
async function profile(action: 'start' | 'stop', file?: string): Promise<void> {
  if (action === 'start') {
    const { Session } = await import('node:inspector/promises');
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 500 });
    await session.post('Profiler.start');
    return;
  }
  if (!session) throw new Error('the profiler was not started');
  const { profile: result } = await session.post('Profiler.stop');
  session.disconnect();
  session = undefined;
  const { writeFileSync } = await import('node:fs');
  writeFileSync(file!, JSON.stringify(result));
}

/** Call once the server listens: prints the ready line and starts answering stats requests. */
export function announceReady(name: string, port: number): void {
  // stderr: the parent sends stdout to /dev/null (it carries our request logs).
  process.stderr.write(`READY ${name} port=${port}\n`);
  if (!process.send) return;
  process.on('message', (raw: unknown) => {
    const m = raw as ParentMessage;
    if (m?.type === 'stats') process.send!({ type: 'stats', id: m.id, ...sample(m.gc === true) } satisfies ChildMessage);
    if (m?.type === 'profile') {
      profile(m.action, m.file).then(
        () => process.send!({ type: 'profile', id: m.id, ok: true } satisfies ChildMessage),
        (err: unknown) => process.send!({ type: 'profile', id: m.id, ok: false, error: String(err) } satisfies ChildMessage),
      );
    }
  });
  // The parent went away (even if killed with SIGKILL): do not linger.
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'ready', name, port } satisfies ChildMessage);
}

export function envPort(): number {
  const port = Number(process.env.PORT ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`Bad PORT ${process.env.PORT}`);
  return port;
}

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
}

/** The invite the tool sends upstream, built from validated arguments the same way in every target. */
export interface InviteArgs {
  email: string;
  role: 'admin' | 'member';
  first_name?: string;
  last_name?: string;
  workspaces: { id: string; role: string }[];
  workspace_api_key_details?: unknown;
}

export function inviteBody(a: InviteArgs): Record<string, unknown> {
  const body: Record<string, unknown> = { email: a.email, role: a.role, workspaces: a.workspaces.map((w) => ({ id: w.id, role: w.role })) };
  if (a.first_name !== undefined) body.first_name = a.first_name;
  if (a.last_name !== undefined) body.last_name = a.last_name;
  if (a.workspace_api_key_details !== undefined) body.workspace_api_key_details = a.workspace_api_key_details;
  return body;
}
