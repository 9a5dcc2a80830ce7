/** The worker side of client-thread.ts: runs one task with Node's fetch or the MCP SDK client. */
import { parentPort, workerData } from 'node:worker_threads';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ThreadRequest, ThreadTask } from './client-thread.js';

const failed = (err: unknown) => {
  const e = err as Error & { cause?: { code?: string; message?: string }; code?: unknown };
  return `failed: ${e.message} ${e.cause?.code ?? ''} ${e.cause?.message ?? ''} ${e.code ?? ''}`.trim();
};

function bodyOf(r: ThreadRequest): { body: string | ReadableStream<Uint8Array>; duplex?: 'half' } {
  if (!r.chunked) return { body: r.body };
  const bytes = new TextEncoder().encode(r.body);
  let offset = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, (offset += 64 * 1024)));
    },
  });
  return { body, duplex: 'half' };
}

async function exchange(url: string, init: RequestInit): Promise<string> {
  try {
    const res = await fetch(url, init);
    return `${res.status} ${res.headers.get('connection')} ${await res.text()}`;
  } catch (err) {
    return failed(err);
  }
}

async function run(task: ThreadTask): Promise<string[]> {
  const lines: string[] = [];
  if (task.kind === 'fetch') {
    const list = { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${task.bearer}` };
    for (let i = 0; i < task.attempts; i++) {
      lines.push(await exchange(task.url, { method: 'POST', headers: task.request.headers, ...bodyOf(task.request) } as RequestInit));
      lines.push(await exchange(task.url, { method: 'POST', headers: list, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' }));
    }
    return lines;
  }
  const client = new Client({ name: 'client-thread', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(task.url), { requestInit: { headers: { Authorization: `Bearer ${task.bearer}` } } }));
  for (let i = 0; i < task.attempts; i++) {
    lines.push(
      await client.callTool({ name: 'invite_user', arguments: task.args }).then(
        (r) => `result ${JSON.stringify(r)}`,
        (err: unknown) => (err instanceof StreamableHTTPError ? `http ${err.code} ${err.message}` : failed(err)),
      ),
    );
  }
  lines.push(await client.listTools().then((r) => `tools ${r.tools.map((t) => t.name).join(',')}`, failed));
  await client.close();
  return lines;
}

parentPort!.postMessage(await run(workerData as ThreadTask));
