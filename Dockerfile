# toolgate: compiled with the full toolchain, run on a slim Node image with production dependencies only.
# Node is the LTS pinned in .nvmrc (test/unit/dockerfile.test.ts keeps every FROM on that exact version; `npm test` runs
# the suite on the same major).
#   docker build -t toolgate:0.1.0 .
#   docker run --read-only --tmpfs /tmp -v $PWD/config:/etc/toolgate:ro -p 9001:9001 -p 9002:9002 toolgate:0.1.0 --host 0.0.0.0
# The config (and any secret files it names) is mounted at run time; nothing secret is in the image.

# ---- build: TypeScript → dist/ ----
FROM node:24.22.3-trixie AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would compile before the sources are here; nothing else needs an install script.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

# ---- production dependencies only ----
FROM node:24.22.3-trixie AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime ----
FROM node:24.22.3-trixie-slim AS runtime
ENV NODE_ENV=production \
    TOOLGATE_HEALTH_URL=http://127.0.0.1:9002/healthz
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
# Numeric, so Kubernetes' runAsNonRoot can verify it without a passwd entry. Nothing is written outside /tmp:
# the image runs with a read-only root filesystem.
USER 10001:10001
# gRPC (ext_authz + ext_proc) and admin (/healthz, /readyz, /metrics): the config's defaults.
EXPOSE 9001 9002
# No curl in a slim image: Node's fetch. Set TOOLGATE_HEALTH_URL when the config moves the admin port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.TOOLGATE_HEALTH_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/toolgate.js", "serve", "--config", "/etc/toolgate/config.yaml"]
