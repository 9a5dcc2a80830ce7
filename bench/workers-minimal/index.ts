/**
 * A minimal Hono + jose Worker: POST /mcp verifies an HS256 bearer token (audience
 * PUBLIC_URL/mcp) and answers a JSON-RPC result naming the caller. No MCP, no zod, no tenants:
 * the start-up cost of a Worker with only our two runtime dependencies that every request needs.
 * `npm run bench:startup` measures its isolate start-up beside ours.
 */
import { Hono } from 'hono';
import { jwtVerify } from 'jose';

type Env = { AUTH_JWT_SECRET: string; PUBLIC_URL: string };

const app = new Hono<{ Bindings: Env }>();

app.post('/mcp', async (c) => {
  const token = c.req.header('authorization')?.match(/^Bearer (.+)$/)?.[1];
  if (!token) return c.json({ error: 'invalid_token' }, 401);
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(c.env.AUTH_JWT_SECRET), {
      audience: `${c.env.PUBLIC_URL}/mcp`,
      algorithms: ['HS256'],
    });
    const message = await c.req.json<{ id?: string | number }>();
    return c.json({ jsonrpc: '2.0', id: message.id ?? null, result: { sub: payload.sub ?? null } });
  } catch {
    return c.json({ error: 'invalid_token' }, 401);
  }
});

export default app;
