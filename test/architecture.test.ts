/**
 * The layers, checked on the import graph of src/ (docs/architecture.md): configuration is the
 * bottom layer and imports no domain code; http/ knows no tool; no folder imports another that
 * imports it back; Node-only modules are imported only by the Node entry and src/node/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every import specifier of a file, static and dynamic, type-only included. */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => (m[1] ?? m[2])!);
}

/** src-relative path of the file a relative specifier names (".js" stands for ".ts"). */
const target = (from: string, spec: string) => relative(SRC, resolve(dirname(from), spec.replace(/\.js$/, '.ts')));
/** A file's folder under src/ ("config", "http", …), or the file's own name for files at src/'s root. */
const folderOf = (srcPath: string) => (srcPath.includes('/') ? srcPath.split('/')[0]! : srcPath.replace(/\.ts$/, ''));

const graph = sourceFiles(SRC).map((file) => ({
  file: relative(SRC, file),
  imports: specifiers(file),
  local: specifiers(file).filter((s) => s.startsWith('.')).map((s) => target(file, s)),
}));

describe('the layers of src/', () => {
  it('finds the import graph (so the checks below cannot pass on nothing)', () => {
    expect(graph.length).toBeGreaterThan(50);
    expect(graph.find((f) => f.file === 'app.ts')!.local).toContain('mcp/mcp-route.ts');
  });

  it('configuration (src/config/) imports only itself and the shared errors and log', () => {
    const allowed = (t: string) => t.startsWith('config/') || t === 'errors.ts' || t === 'log.ts';
    const leaks = graph.filter((f) => f.file.startsWith('config/')).flatMap((f) => f.local.filter((t) => !allowed(t)).map((t) => `${f.file} -> ${t}`));
    expect(leaks).toEqual([]);
  });

  it('http/ knows no tool and no MCP server', () => {
    const leaks = graph
      .filter((f) => f.file.startsWith('http/'))
      .flatMap((f) => f.local.filter((t) => t.startsWith('tools/') || t.startsWith('mcp/')).map((t) => `${f.file} -> ${t}`));
    expect(leaks).toEqual([]);
  });

  it('no folder imports a folder that imports it back, directly or around a circle', () => {
    const edges = new Map<string, Set<string>>();
    for (const f of graph) {
      for (const t of f.local) {
        const [a, b] = [folderOf(f.file), folderOf(t)];
        if (a !== b) (edges.get(a) ?? edges.set(a, new Set()).get(a)!).add(b);
      }
    }
    const circles: string[] = [];
    const reach = (from: string, to: string, seen = new Set<string>()): string[] | undefined => {
      for (const next of edges.get(from) ?? []) {
        if (next === to) return [from, to];
        if (seen.has(next)) continue;
        seen.add(next);
        const rest = reach(next, to, seen);
        if (rest) return [from, ...rest];
      }
      return undefined;
    };
    for (const folder of edges.keys()) {
      const circle = reach(folder, folder);
      if (circle) circles.push(circle.join(' -> '));
    }
    expect(circles).toEqual([]);
  });

  it('Node-only modules are imported only by src/node.ts and src/node/', () => {
    const nodeOnly = (s: string) => s.startsWith('node:') || ['ioredis', 'undici', '@hono/node-server', '@opentelemetry/sdk-node'].some((m) => s === m || s.startsWith(`${m}/`));
    const leaks = graph
      .filter((f) => f.file !== 'node.ts' && !f.file.startsWith('node/'))
      .flatMap((f) => f.imports.filter(nodeOnly).map((s) => `${f.file} -> ${s}`));
    expect(leaks).toEqual([]);
  });
});
