/**
 * Checks a deployment the way Claude's connectors will meet it (src/node/doctor/checks.ts):
 *   npm run -s doctor -- <public /mcp URL> [--token <access token>] [--tenant-claim <name>] [--json]
 * One line per check, ✔ passed, ✘ failed (with the fix and the side it lies on), ! a warning.
 * Exit status 0 only when nothing failed. The token is sent only to the URL given, and never printed.
 */
import { lookup } from 'node:dns/promises';
import { parseArgs } from 'node:util';
import { runDoctor, type Check } from '../doctor/checks.js';

const USAGE = 'Usage: npm run -s doctor -- <public /mcp URL> [--token <access token>] [--tenant-claim <name>] [--json]';

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: { token: { type: 'string' }, 'tenant-claim': { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const { values, positionals } = parsed;
if (values.help || positionals.length !== 1) {
  console.error(USAGE);
  process.exit(values.help ? 0 : 2);
}

const checks = await runDoctor(positionals[0]!, { token: values.token, tenantClaim: values['tenant-claim'] }, {
  fetch,
  lookup: (host) => lookup(host, { all: true }),
});
const failed = checks.filter((c) => c.status === 'fail');
const networkOnly = failed.length > 0 && failed.every((c) => c.side === 'network');

if (values.json) {
  console.log(JSON.stringify({ url: positionals[0], ok: failed.length === 0, checks }, null, 2));
} else {
  const mark: Record<Check['status'], string> = { pass: '✔', fail: '✘', warn: '!' };
  for (const c of checks) {
    console.log(`${mark[c.status]} ${c.summary}`);
    if (c.status !== 'pass' && c.fix) console.log(`    fix (${c.side ?? 'server'}): ${c.fix}`);
  }
  console.log(
    failed.length === 0
      ? '\nReady for Claude: nothing failed.'
      : networkOnly
        ? `\nThis server answers, but claude.ai cannot reach it at this address (${failed.length} network check${failed.length > 1 ? 's' : ''} failed): fine for local use, not for a connector.`
        : `\n${failed.length} check${failed.length > 1 ? 's' : ''} failed: fix them before connecting Claude.`,
  );
}
process.exit(failed.length === 0 ? 0 : 1);
