# syntax=docker/dockerfile:1
# maia-gateway: multi-stage build. The runtime image holds production dependencies and the compiled
# JavaScript only, runs as the unprivileged `node` user (uid 1000), and checks /health/live with node
# itself (slim images have no curl).
# Node.js 24: the active LTS (20 reached end of life in April 2026). CI also runs the tests on 24.
ARG NODE_VERSION=24

# --- build: every dependency, then swc -------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json .swcrc ./
COPY src ./src
# The browser pages (GraphiQL at /graphql): bundled into dist/ui/ by the same npm run build.
COPY ui ./ui
COPY scripts/build-ui.mjs ./scripts/
RUN npm run build

# --- runtime: production dependencies and dist/ only ------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Nothing in /app is writable by the process: it needs no disk at run time.
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "require('http').get({host:'127.0.0.1',port:process.env.PORT||3000,path:'/health/live',timeout:2000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',function(){this.destroy();process.exit(1)})"]
# SIGTERM starts the graceful shutdown (readiness fails, in-flight requests finish, exit well within 30 s).
STOPSIGNAL SIGTERM
# node directly (not npm start): signals reach the process, and nothing is rebuilt at start.
CMD ["node", "dist/main.js"]
