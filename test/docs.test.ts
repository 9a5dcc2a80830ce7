/**
 * The README is the front door and docs/ holds one file per topic. Every link between them, and
 * every "see docs/…" a message, comment or test gives, must land on a file and a heading that
 * exist; no message points at a README section any more (the README has no such sections).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(join(repo, path), 'utf8');
const docFiles = ['README.md', ...readdirSync(join(repo, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** GitHub's heading anchors: lowercase, punctuation dropped (hyphens and underscores kept), spaces to hyphens. */
const anchorOf = (heading: string) => heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');

function anchors(path: string): Set<string> {
  const text = read(path).replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1]!)));
}

/** Where a reference lands, or why it does not. */
function problem(fromDir: string, target: string): string | undefined {
  const [path, anchor] = target.split('#') as [string, string | undefined];
  const file = path === '' ? undefined : relative(repo, join(repo, fromDir, path));
  if (file !== undefined) {
    try {
      statSync(join(repo, file));
    } catch {
      return `no file ${file}`;
    }
  }
  if (anchor && file?.endsWith('.md') !== false && !anchors(file ?? fromDir).has(anchor)) return `no heading #${anchor} in ${file}`;
  return undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(repo, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'results' ? [] : sourceFiles(path);
    return /\.(ts|mjs|py|sh)$/.test(e.name) ? [path] : [];
  });
}

describe('README.md and docs/', () => {
  it('the README is a front door: short, with a table of the documents that names each one', () => {
    const readme = read('README.md');
    expect(readme.split('\n').length).toBeLessThan(260);
    for (const file of docFiles.filter((f) => f !== 'README.md')) expect(readme, `README.md does not list ${file}`).toContain(`](${file})`);
  });

  it.each(docFiles)('every relative link in %s lands on a file and heading that exist', (file) => {
    const text = read(file).replace(/```[\s\S]*?```/g, '');
    const fromDir = file.includes('/') ? file.slice(0, file.lastIndexOf('/')) : '.';
    const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/.test(t));
    // Every document links back to the front door, so no page is a dead end.
    if (file !== 'README.md') expect(links, `${file} does not link back to the README`).toContain('../README.md');
    const broken = links.flatMap((t) => {
      const p = t.startsWith('#') ? (anchors(file).has(t.slice(1)) ? undefined : `no heading ${t} in ${file}`) : problem(fromDir, t);
      return p ? [`${t}: ${p}`] : [];
    });
    expect(broken).toEqual([]);
  });

  it('every docs/… reference in code, messages, tests and config lands on a file and heading that exist', () => {
    const files = [...sourceFiles('src'), ...sourceFiles('test'), ...sourceFiles('scripts'), ...sourceFiles('bin'), 'Dockerfile', 'wrangler.toml', '.ci/run'];
    const refs = files.flatMap((f) => [...read(f).matchAll(/\bdocs\/[\w-]+\.md(?:#[\w-]+)?/g)].map((m) => ({ f, ref: m[0] })));
    expect(refs.length).toBeGreaterThan(5);
    const broken = refs.flatMap(({ f, ref }) => {
      const p = problem('.', ref);
      return p ? [`${f}: ${ref}: ${p}`] : [];
    });
    expect(broken).toEqual([]);
  });

  it('no message or comment in src/ points at a README section (they live in docs/ now)', () => {
    const stale = sourceFiles('src').flatMap((f) => (/README/.test(read(f)) ? [f] : []));
    expect(stale).toEqual([]);
  });
});

describe("docs/clients.md's Messages API example", () => {
  it('uses the current connector: beta mcp-client-2025-11-20, and an mcp_toolset naming each mcp_servers entry', () => {
    const doc = read('docs/clients.md');
    const example = /curl https:\/\/api\.anthropic\.com\/v1\/messages[\s\S]*?```/.exec(doc)![0];
    expect(example).toContain('anthropic-beta: mcp-client-2025-11-20');
    const body = JSON.parse(/-d '([\s\S]*?)'\n```/.exec(example)![1]!.replace(`'"$TOKEN"'`, 'TOKEN')) as {
      mcp_servers: { type: string; url: string; name: string; authorization_token: string }[];
      tools: { type: string; mcp_server_name: string }[];
    };
    expect(body.mcp_servers).toEqual([expect.objectContaining({ type: 'url', url: expect.stringMatching(/^https:\/\/.+\/mcp$/), name: 'portkey-invite' })]);
    // Every server is referenced by exactly one toolset (the connector refuses the request otherwise).
    for (const server of body.mcp_servers) {
      expect(body.tools.filter((t) => t.type === 'mcp_toolset' && t.mcp_server_name === server.name)).toHaveLength(1);
    }
  });
});
