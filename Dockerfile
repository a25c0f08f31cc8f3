# syntax=docker/dockerfile:1
# Build stage: full install, compile TypeScript.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
RUN npx tsc -p . --outDir dist && rm -rf dist/test dist/bench

# Runtime stage: production dependencies and compiled output only, non-root.
FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The dashboard's static files are read at startup next to the compiled code.
COPY --from=build /app/src/control/dashboard/assets ./dist/src/control/dashboard/assets
USER node
# The embedded store lives here unless --store points elsewhere.
ENV SWITCHYARD_STORE=file:/home/node/.switchyard \
    SWITCHYARD_STATE_DIR=/home/node/.switchyard-state \
    SWITCHYARD_LISTEN=8080 \
    SWITCHYARD_ADMIN=127.0.0.1:9901
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:9901/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["start"]
