#!/usr/bin/env bash
# Production smoke test: in a fresh copy of this checkout (tracked files plus uncommitted changes),
# run exactly the production steps, then start the compiled server with an unwritable TMPDIR and
# call /healthz, /readyz and tools/list. Exits non-zero on any failure. CI runs it (.ci/run).
#
# The Dockerfile runs the same three steps (test/dockerfile.test.ts keeps them identical):
#   npm ci --no-audit --no-fund  &&  npm run build  &&  npm prune --omit=dev --no-audit --no-fund
# and then `node dist/node.js`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL -- "-$server_pid" 2>/dev/null || true; fi
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "smoke-prod: FAIL: $*" >&2; exit 1; }
step() { echo "smoke-prod: $*"; }

step "copying the checkout to $work/app"
mkdir -p "$work/app"
(cd "$repo" && git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf -) | tar -xf - -C "$work/app"
cd "$work/app"

# --- the production steps (keep in step with the Dockerfile) ---
npm ci --no-audit --no-fund
npm run build
npm prune --omit=dev --no-audit --no-fund
# ---

step "checking the pruned install"
npm ls --omit=dev >/dev/null || fail "npm ls --omit=dev reports a problem with the production dependencies"
for dev in tsx typescript vitest wrangler; do
  [ ! -e "node_modules/$dev" ] || fail "dev dependency $dev is still installed after npm prune --omit=dev"
done
[ -f dist/node.js ] || fail "dist/node.js was not built"

secret="smoke-$(node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("hex"))')"
public_url="http://localhost:8787"

# The operator's tools run from the pruned install (no tsx): compiled with the server into dist/node/cli/.
step "running the operator tools from the pruned install (npm run token, npm run tenants, npm run doctor)"
jwt="$(AUTH_JWT_SECRET="$secret" PUBLIC_URL="$public_url" npm run -s token -- --sub smoke)" || fail "npm run token failed in the production install"
[[ "$jwt" =~ ^ey[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || fail "npm run token printed no token"
checked="$(echo '{"apiKey":"pk-smoke-inline"}' | REDIS_URL=redis://127.0.0.1:1 TENANTS_REDIS_PREFIX=tenants: npm run -s tenants -- check acme -)" ||
  fail "npm run tenants failed in the production install"
[[ "$checked" == OK:* ]] || fail "npm run tenants check did not accept a valid entry: $checked"
# The doctor against an address nothing listens on: it must run (compiled), report, and exit 1.
doctor_code=0
doctor="$(npm run -s doctor -- http://127.0.0.1:1/mcp --json)" || doctor_code=$?
[ "$doctor_code" -eq 1 ] && [[ "$doctor" == *'"id": "challenge"'* ]] || fail "npm run doctor did not run from the production install (exit $doctor_code): $doctor"
node bin/cli.mjs tenants --help 2>&1 | grep -q 'Usage: npm run -s tenants' || fail "node bin/cli.mjs tenants --help printed no usage"
# With a redis-server here (CI installs one): put and list for real, on a Redis of our own.
if command -v redis-server >/dev/null 2>&1; then
  redis_port="$(node -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})')"
  setsid redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
  redis_pid=$!
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export REDIS_URL="redis://127.0.0.1:$redis_port" TENANTS_REDIS_PREFIX=tenants:
  echo '{"apiKey":"pk-smoke-inline"}' | npm run -s tenants -- put acme - >/dev/null || { kill -- -"$redis_pid"; fail "npm run tenants put failed"; }
  listed="$(npm run -s tenants -- list)"
  kill -- -"$redis_pid" 2>/dev/null || kill "$redis_pid"
  unset REDIS_URL TENANTS_REDIS_PREFIX
  [ "$listed" = "acme" ] || fail "npm run tenants list printed $listed, not acme"
  step "npm run tenants put and list against a redis-server: OK"
fi

# run_server TMPDIR: start `node dist/node.js` in its own process group with that TMPDIR, check the
# three calls, stop it with SIGTERM to the group, and require exit 0.
run_server() {
  local tmp="$1" log="$work/server.log"
  : >"$log"
  step "starting node dist/node.js with TMPDIR=$tmp"
  setsid env -i PATH="$PATH" HOME="$work" TMPDIR="$tmp" NODE_ENV=production \
    HOST=127.0.0.1 PORT=0 PUBLIC_URL="$public_url" AUTH_JWT_SECRET="$secret" PORTKEY_API_KEY=pk-smoke-not-called \
    node dist/node.js >"$log" 2>&1 &
  server_pid=$!
  local url="" i
  for i in $(seq 1 100); do
    url="$(sed -n 's/.*"event":"server.started","url":"\([^"]*\)".*/\1/p' "$log")"
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; fail "the server exited during start-up"; }
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$log" >&2; fail "the server did not start within 10 s"; }

  # The token is minted by the compiled code itself, also with the unwritable TMPDIR.
  TMPDIR="$tmp" SMOKE_URL="$url" SMOKE_SECRET="$secret" SMOKE_AUDIENCE="$public_url/mcp" node --input-type=module -e '
    import { mintToken } from "./dist/auth/mint.js";
    const { SMOKE_URL: url, SMOKE_SECRET: secret, SMOKE_AUDIENCE: audience } = process.env;
    const check = async (what, res, status) => {
      const body = await res.text();
      if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status}: ${body}`);
      console.log(`smoke-prod: ${what} -> ${res.status}`);
      return body;
    };
    await check("GET /healthz", await fetch(`${url}/healthz`), 200);
    await check("GET /readyz", await fetch(`${url}/readyz`), 200);
    const token = await mintToken({ secret: new TextEncoder().encode(secret), audience, subject: "smoke", scopes: ["portkey.invite"], claims: {}, ttlSeconds: 300 });
    const body = await check("POST /mcp tools/list", await fetch(`${url}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    }), 200);
    const names = JSON.parse(body).result.tools.map((t) => t.name);
    if (names.join() !== "invite_user,list_invites") throw new Error(`tools/list: expected [invite_user, list_invites] (the default tools), got ${JSON.stringify(names)}`);
  ' || { cat "$log" >&2; fail "a call to the compiled server failed (TMPDIR=$tmp)"; }

  kill -TERM -- "-$server_pid"
  local code=0
  wait "$server_pid" || code=$?
  server_pid=""
  [ "$code" -eq 0 ] || { cat "$log" >&2; fail "the server exited $code after SIGTERM (expected 0)"; }
  grep -q '"event":"server.stopped"' "$log" || { cat "$log" >&2; fail "no server.stopped line after SIGTERM"; }
  step "stopped cleanly"
}

# A TMPDIR that cannot exist (a path under a character device): unwritable even for root, which CI runs as.
run_server /dev/null/no-tmp
# An empty TMPDIR that must still be empty afterwards: catches a write that failed quietly above.
mkdir "$work/tmp-must-stay-empty"
[ "$(id -u)" = 0 ] || chmod 0500 "$work/tmp-must-stay-empty" # read-only too, for a non-root user
run_server "$work/tmp-must-stay-empty"
[ -z "$(ls -A "$work/tmp-must-stay-empty")" ] || fail "the server wrote to TMPDIR: $(ls -A "$work/tmp-must-stay-empty")"

step "OK: npm ci, npm run build, npm prune --omit=dev, the operator tools, node dist/node.js (TMPDIR unwritable): /healthz, /readyz, tools/list"
