#!/usr/bin/env bash
# Builds the images of the real-node cluster without any image registry, and leaves each as a
# docker-archive tarball that `ctr -n k8s.io images import` loads.
#
#   test/cluster/build-images.sh base   the base images the Dockerfiles and manifests name, made
#                                       from Debian packages (mmdebstrap) + the machine's Node 20:
#                                       node:20-bookworm-slim, node:20-bookworm, redis:7.2-alpine
#                                       (Debian's redis-server), localhost/busybox:dev
#                                       (busybox-static) and the pause image; cached by key
#   test/cluster/build-images.sh app    Dockerfile and job-image/Dockerfile, built with buildah
#                                       (layer cache kept) as localhost/tracejob:dev and
#                                       localhost/tracejob-runner:dev
#   test/cluster/build-images.sh coredns  localhost/coredns:dev from the cached CoreDNS binary
#   (no argument: all three)            prints the directory of the tarballs
#
# buildah's storage lives under the cache (never the machine's /var/lib/containers), its run root
# under /run/tracejob-buildah; chroot isolation, host network (npm and apt inside RUN steps).
# Environment: TRACEJOB_CACHE (default /var/cache/tracejob).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${TRACEJOB_CACHE:-/var/cache/tracejob}"
IMG="$CACHE/images"
OUT="$IMG/archives"
SUITE=bookworm
NODE_BIN="$(command -v node)"
NODE_VERSION="$("$NODE_BIN" -p 'process.versions.node')"
# Bump r (root filesystems: their packages) or i (the images made from them) when they change.
ROOTFS_KEY="$SUITE-node$NODE_VERSION-r1"
BASE_KEY="$ROOTFS_KEY-i2"

for tool in buildah mmdebstrap; do
  command -v "$tool" >/dev/null || { echo "build-images: $tool is missing (apt-get install $tool)" >&2; exit 2; }
done
[ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 || { echo "build-images: busybox-static is missing" >&2; exit 2; }

export CONTAINERS_REGISTRIES_CONF="$HERE/registries.conf"
export BUILDAH_ISOLATION=chroot
B() { buildah --root "$IMG/storage" --runroot /run/tracejob-buildah --storage-driver overlay "$@"; }
POLICY=(--signature-policy "$HERE/policy.json")
mkdir -p "$OUT" "$IMG/work"

# name -> archive file
archive_of() { echo "$OUT/$(echo "$1" | tr '/:' '__').tar"; }

has_image() { B inspect --type image "$1" >/dev/null 2>&1; }

save() { # writes the image's archive unless the archive already holds this very image
  local name="$1" file id; file="$(archive_of "$1")"
  id="$(B images --noheading --no-trunc --format '{{.ID}}' "$name")"
  [ -f "$file" ] && [ "$(cat "$file.id" 2>/dev/null)" = "$id" ] && return
  B push "${POLICY[@]}" --quiet "$name" "docker-archive:$file.tmp:$name" >/dev/null
  mv "$file.tmp" "$file"
  echo "$id" > "$file.id"
}

# Node 20 as the official images lay it out (/usr/local), from the machine's own installation.
add_node() {
  local c="$1" npm_dir
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  B copy "$c" "$NODE_BIN" /usr/local/bin/node
  B copy "$c" "$npm_dir" /usr/local/lib/node_modules/npm
  local inc; inc="$(dirname "$NODE_BIN")/../include/node"
  [ -d "$inc" ] && B copy "$c" "$inc" /usr/local/include/node
  B run "$c" -- sh -c 'ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && node --version && npm --version' >/dev/null
  B config --env NODE_VERSION="$NODE_VERSION" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd node "$c"
}

rootfs() { # rootfs NAME PACKAGES... -> a root filesystem directory (Debian minbase + PACKAGES)
  local name="$1"; shift
  local dir="$IMG/work/$name-$ROOTFS_KEY"
  if [ ! -d "$dir" ]; then
    local include; include="$(IFS=,; echo "$*")"
    rm -rf "$dir.tmp"
    nice -n 10 mmdebstrap --quiet --variant=minbase --format=directory --include="$include" \
      --aptopt='Apt::Install-Recommends "false"' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
      "$SUITE" "$dir.tmp" >&2
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

from_rootfs() { # from_rootfs NAME DIR -> container
  local c; c="$(B from --quiet "${POLICY[@]}" scratch)"
  B add "$c" "$2" / >/dev/null
  echo "$c"
}

build_base() {
  local stamp="$OUT/base-$BASE_KEY.done" c
  if [ -f "$stamp" ]; then
    # Warm: the tarballs are the cache; reload any image the builder's storage lost.
    for name in docker.io/library/node:20-bookworm-slim docker.io/library/node:20-bookworm; do
      has_image "$name" || B pull "${POLICY[@]}" --quiet "docker-archive:$(archive_of "$name")" >/dev/null
    done
    return
  fi
  rm -f "$OUT"/base-*.done
  echo "build-images: base images ($BASE_KEY)" >&2

  c="$(from_rootfs slim "$(rootfs slim ca-certificates)")"
  add_node "$c"
  B commit --quiet "${POLICY[@]}" --rm "$c" docker.io/library/node:20-bookworm-slim >/dev/null
  save docker.io/library/node:20-bookworm-slim

  # node:20-bookworm is buildpack-deps: compilers, python3, git, curl on top of the slim set.
  c="$(from_rootfs full "$(rootfs full ca-certificates curl wget git gnupg make gcc g++ libc6-dev python3 procps xz-utils)")"
  add_node "$c"
  B commit --quiet "${POLICY[@]}" --rm "$c" docker.io/library/node:20-bookworm >/dev/null
  save docker.io/library/node:20-bookworm

  # The Redis image of manifests/redis.yaml: Debian's redis-server, with the official image's
  # entry point convention (arguments starting with '-' go to redis-server) and its default of
  # protected mode off (the official image patches it out; without, no other pod may connect).
  c="$(from_rootfs redis "$(rootfs redis redis-server redis-tools)")"
  B run "$c" -- sh -c 'printf "%s\n" "#!/bin/sh" "set -e" "case \"\$1\" in -*|\"\") set -- redis-server --protected-mode no \"\$@\" ;; esac" "exec \"\$@\"" > /usr/local/bin/docker-entrypoint.sh && chmod 0755 /usr/local/bin/docker-entrypoint.sh && mkdir -p /data'
  B config --entrypoint '["docker-entrypoint.sh"]' --cmd redis-server --workingdir /data --port 6379 "$c"
  B commit --quiet "${POLICY[@]}" --rm "$c" docker.io/library/redis:7.2-alpine >/dev/null
  save docker.io/library/redis:7.2-alpine

  # The workloads' shell image: busybox-static and its applets.
  local bb="$IMG/work/busybox"; rm -rf "$bb"; mkdir -p "$bb/bin" "$bb/tmp" "$bb/etc"
  cp /bin/busybox "$bb/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$bb/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$bb/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' > "$bb/etc/group"
  c="$(B from --quiet "${POLICY[@]}" scratch)"
  B copy "$c" "$bb" / >/dev/null
  B config --env PATH=/bin --cmd sh "$c"
  B commit --quiet "${POLICY[@]}" --rm "$c" localhost/busybox:dev >/dev/null
  save localhost/busybox:dev

  # The pod sandbox image (containerd's default sandbox image name).
  local pause="$IMG/work/pause"; rm -rf "$pause"; mkdir -p "$pause"
  cc -static -Os -o "$pause/pause" "$HERE/pause.c"
  c="$(B from --quiet "${POLICY[@]}" scratch)"
  B copy "$c" "$pause/pause" /pause >/dev/null
  B config --entrypoint '["/pause"]' --user 65535:65535 "$c"
  B commit --quiet "${POLICY[@]}" --rm "$c" registry.k8s.io/pause:3.10.1 >/dev/null
  save registry.k8s.io/pause:3.10.1

  touch "$stamp"
}

# CoreDNS as its official image is: the static binary alone (built by build-coredns.sh).
build_coredns() {
  local bin="$CACHE/bin/coredns" file; file="$(archive_of localhost/coredns:dev)"
  [ -x "$bin" ] || { echo "build-images: $bin is missing (test/cluster/build-coredns.sh)" >&2; exit 2; }
  local version; version="$(readlink -f "$bin")"
  [ -f "$file" ] && [ "$(cat "$file.from" 2>/dev/null)" = "$version" ] && return
  local c; c="$(B from --quiet "${POLICY[@]}" scratch)"
  B copy "$c" "$bin" /coredns >/dev/null
  B config --entrypoint '["/coredns"]' "$c"
  B commit --quiet "${POLICY[@]}" --rm "$c" localhost/coredns:dev >/dev/null
  save localhost/coredns:dev
  echo "$version" > "$file.from"
}

# The build context: the checkout's files as git sees them (tracked and new, never ignored build
# output), with their times set to 0, so that buildah's layer cache depends on the files' contents
# alone: a fresh clone at a new commit redoes only the steps whose inputs changed.
context() {
  local ctx="$IMG/work/context"
  rm -rf "$ctx"; mkdir -p "$ctx"
  if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
      | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$ctx"
  else
    tar -C "$REPO" --exclude=./node_modules --exclude=./test-artifacts -cf - . | tar -xf - -C "$ctx"
  fi
  find "$ctx" -exec touch -h -d @0 {} +
  echo "$ctx"
}

build_app() {
  local ctx key stamp="$OUT/app.key"
  ctx="$(context)"
  # The same context on the same base images builds the same images: skip buildah altogether.
  key="$BASE_KEY $(tar -C "$ctx" --sort=name -cf - . | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" = "$key" ] && [ -f "$(archive_of localhost/tracejob:dev)" ] && [ -f "$(archive_of localhost/tracejob-runner:dev)" ]; then
    echo "build-images: Dockerfile and job-image/Dockerfile: this context is built already" >&2
    return
  fi
  rm -f "$stamp"
  echo "build-images: building Dockerfile and job-image/Dockerfile" >&2
  cd "$ctx"
  # Behind a TLS-inspecting proxy the machine's npm trusts an extra CA (its `cafile`); the RUN steps
  # get it as a build-time mount (and a global npmrc naming it), never as part of an image.
  local mounts=() ca
  ca="$(npm config get cafile 2>/dev/null || true)"
  if [ -n "$ca" ] && [ "$ca" != null ] && [ "$ca" != undefined ] && [ -f "$ca" ]; then
    printf 'cafile=/run/tracejob-build/ca.crt\n' > "$IMG/work/npmrc"
    mounts+=(-v "$ca:/run/tracejob-build/ca.crt:ro" -v "$IMG/work/npmrc:/usr/local/etc/npmrc:ro")
  fi
  nice -n 10 buildah --root "$IMG/storage" --runroot /run/tracejob-buildah --storage-driver overlay \
    bud "${POLICY[@]}" --pull-never --layers --network host "${mounts[@]}" -f Dockerfile -t localhost/tracejob:dev . >&2
  save localhost/tracejob:dev
  nice -n 10 buildah --root "$IMG/storage" --runroot /run/tracejob-buildah --storage-driver overlay \
    bud "${POLICY[@]}" --pull-never --layers --network host "${mounts[@]}" -f job-image/Dockerfile -t localhost/tracejob-runner:dev . >&2
  save localhost/tracejob-runner:dev
  echo "$key" > "$stamp"
}

case "${1:-all}" in
  base) build_base ;;
  coredns) build_coredns ;;
  app) build_base; build_app ;;
  all) build_base; build_coredns; build_app ;;
  *) echo "usage: $0 [base|app]" >&2; exit 2 ;;
esac
echo "$OUT"
