/**
 * Runs HTTP clients in a worker thread, so they race the server as a client in another process
 * would: in the test's own thread the client and the in-process server share one event loop and
 * take turns, which hides what happens while a client is still writing when the server answers.
 * Every answer is recorded in `observed.responses` for the secret check.
 */
import { Worker } from 'node:worker_threads';
import { observed } from './harness.js';

export interface ThreadRequest {
  headers: Record<string, string>;
  body: string;
  /** Send the body as a stream of 64 KiB pieces (chunked, no Content-Length). */
  chunked?: boolean;
}

export type ThreadTask =
  /** `attempts` times: the request, then a tools/list on a fresh connection. */
  | { kind: 'fetch'; url: string; request: ThreadRequest; attempts: number; bearer: string }
  /** `attempts` times: an SDK client's callTool with these arguments; then one listTools. */
  | { kind: 'sdk'; url: string; bearer: string; args: Record<string, unknown>; attempts: number };

// A worker cannot start from a .ts file, nor take `--import tsx` in its execArgv on Node 20: it
// registers tsx itself, then imports the TypeScript worker module.
const WORKER_BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./client-thread-worker.ts', import.meta.url).href)}); })`;

/** One line per exchange: `<status> <connection header> <body>`, or `failed: <why>`. */
export async function runInClientThread(task: ThreadTask): Promise<string[]> {
  const worker = new Worker(WORKER_BOOT, { eval: true, workerData: task });
  try {
    const lines = await new Promise<string[]>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`client thread exited (${code}) before answering`)));
    });
    observed.responses.push(...lines);
    return lines;
  } finally {
    await worker.terminate();
  }
}
