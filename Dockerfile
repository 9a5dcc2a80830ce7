# Production image. Its build stage runs exactly the production steps that scripts/smoke-prod.sh
# runs and CI proves (no Docker engine there): test/dockerfile.test.ts fails if they drift apart.
# Run it with PUBLIC_URL set to the URL clients use (HOST=0.0.0.0 is not a loopback address), a key
# source (AUTH_JWT_SECRET / AUTH_PUBLIC_KEY / AUTH_JWKS_URL + AUTH_ISSUER) and PORTKEY_API_KEY or
# TENANTS; see docs/deploy-node.md.

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8787
WORKDIR /app
# Owned by root and not writable by the server's user: the server writes nothing to disk.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The operator's tools, compiled with the server: docker exec <container> npm run -s tenants -- list
COPY --from=build /app/bin ./bin
USER node
EXPOSE 8787
# Liveness with node itself (the slim image has no curl). Readiness for a balancer: GET /readyz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8787) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Give `docker stop` (default 10 s) more time than SHUTDOWN_DRAIN_MS + PORTKEY_TIMEOUT_MS + 5 s, e.g. -t 30.
STOPSIGNAL SIGTERM
CMD ["node", "dist/node.js"]
