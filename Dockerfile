# faultline as a container: compile once, ship only the built code and production dependencies.
#   docker build -t faultline .
#   docker run -p 8080:8080 -v faultline-data:/data -e FAULTLINE_TOKEN=... faultline

# The toolchain both installing stages share: better-sqlite3 compiles from source when no
# prebuilt binary matches the platform.
FROM node:20-bookworm-slim AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./

# Production dependencies only, from the lockfile: `npm ci --omit=dev` in a stage of its own
# rather than `npm prune` after the build. The bytes are the same, but this layer depends on
# the lockfile alone, so a code-only change reuses it and an upgrade pulls only the dist layer.
FROM toolchain AS deps
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# The TypeScript build, with the dev dependencies it needs; only dist/ leaves this stage.
FROM toolchain AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY routes ./routes
COPY schemas ./schemas
COPY web ./web
COPY scripts ./scripts
RUN npm run build

# The runtime: no compiler, no dev dependencies, no sources; code owned by root and read-only
# to the server, which runs as the image's unprivileged `node` user (uid 1000).
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 FAULTLINE_DATA_DIR=/data
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The mount point exists and belongs to node before VOLUME, so a new named volume starts
# out writable by the server (it writes <data>/token there, and the store later).
RUN mkdir -p /data && chown 1000:1000 /data
VOLUME ["/data"]
# Numeric, so orchestrators that require a non-root user (runAsNonRoot) can verify it.
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself; the server closes gracefully on it
# (close-with-grace: readiness off, stream sockets closed, in-flight requests finished).
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
