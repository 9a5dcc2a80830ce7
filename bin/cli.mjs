#!/usr/bin/env node
/**
 * Runs an operator tool (`token`, `tenants`, `doctor`): `npm run -s tenants -- list` and the like.
 * In a checkout (tsx installed) it runs the TypeScript in src/node/cli/; in the production
 * install (`npm prune --omit=dev` removed tsx) and the container it runs the same tool compiled
 * with the server into dist/node/cli/ by `npm run build`. Plain JavaScript: it needs no loader.
 */
import { existsSync } from 'node:fs';

const TOOLS = ['token', 'tenants', 'doctor'];
const [tool, ...args] = process.argv.slice(2);
if (!TOOLS.includes(tool)) {
  console.error(`Usage: node bin/cli.mjs <${TOOLS.join(' | ')}> [arguments]`);
  process.exit(2);
}
// The tools read their arguments from process.argv.slice(2), as when run directly.
process.argv = [process.argv[0], tool, ...args];

const source = new URL(`../src/node/cli/${tool}.ts`, import.meta.url);
const compiled = new URL(`../dist/node/cli/${tool}.js`, import.meta.url);
let tsx;
try {
  tsx = await import('tsx/esm/api');
} catch {
  tsx = undefined; // production install: no dev dependencies
}
if (tsx && existsSync(source)) {
  tsx.register();
  await import(source.href);
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  console.error(`The ${tool} tool is not built: run npm run build (it compiles the tools with the server into dist/).`);
  process.exit(1);
}
