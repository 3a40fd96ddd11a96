# syntax=docker/dockerfile:1
# The tracejob api/scheduler image (the runner has its own image, see job-image/).
#   docker build -t tracejob:0.1.0 .
#   api:        docker run tracejob:0.1.0 api
#   scheduler:  docker run tracejob:0.1.0 scheduler        (kubernetes backend)
#   cli:        docker run tracejob:0.1.0 traces list ...  (anything else goes to bin/tracejob.js)
# Runs as an unprivileged user with a read-only root filesystem (manifests/): nothing is written
# outside DATA_DIR and /tmp.

FROM node:20-bookworm-slim AS build
WORKDIR /src
# Dependencies first (cached while only sources change). --ignore-scripts: the api/scheduler do not
# load the BPF addon, so its native build (bpf/native, a workspace) is skipped.
COPY package.json package-lock.json ./
COPY bpf/native/package.json bpf/native/package.json
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY contracts contracts
COPY state state
COPY api api
COPY scheduler scheduler
COPY cli cli
COPY bin bin
# The gadget registry (params schemas, decoders) and what it imports; test/support is imported by
# the test fixtures that tsconfig.build.json still compiles.
COPY bpf bpf
COPY job-image/src job-image/src
COPY test/support test/support
COPY scripts/copy-assets.mjs scripts/copy-assets.mjs
# as `npm run build:ts`: compile, then copy the files the code reads at run time (the UI's static files)
RUN npx tsc -p tsconfig.build.json \
 && node scripts/copy-assets.mjs \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /opt/tracejob
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
# bpf/gadgets/: the root marker the code finds its root by (next to package.json); this image
# loads no BPF objects.
RUN printf '%s\n' \
      '#!/bin/sh' \
      'set -e' \
      'cd /opt/tracejob' \
      'case "$1" in' \
      '  api) shift; exec node dist/cli/api-main.js "$@" ;;' \
      '  scheduler) shift; exec node dist/scheduler/src/kubernetes/main.js "$@" ;;' \
      '  *) exec node bin/tracejob.js "$@" ;;' \
      'esac' > /usr/local/bin/tracejob-entry \
 && chmod 0755 /usr/local/bin/tracejob-entry \
 && mkdir -p /data && chown 10001:10001 /data \
 && mkdir -p bpf/gadgets
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tracejob-entry"]
CMD ["api"]
