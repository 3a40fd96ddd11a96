#!/usr/bin/env bash
# Builds the Alertmanager of the alert-webhook tests from the Go module proxy and caches the
# binary so later runs skip the build.
#
#   test/alerts/build-alertmanager.sh        build (or reuse) and print the bin directory
#
# Recipe: a throwaway Go module requires github.com/prometheus/alertmanager at a pinned release
# and builds its cmd/alertmanager (a throwaway module rather than `go install pkg@version`, so
# that replace directives in Alertmanager's own go.mod cannot refuse the build).
#
# The version is the newest whose module zip builds as is: from v0.35 the web UI is embedded from
# ui/app/dist, a build output that the published module does not contain.
#
# Environment: TRACEJOB_CACHE (default /var/cache/tracejob), ALERTMANAGER_VERSION.
# Gentle on shared machines: at most two packages at a time (-p=2), under nice.
set -euo pipefail

ALERTMANAGER_VERSION="${ALERTMANAGER_VERSION:-v0.31.1}"
CACHE="${TRACEJOB_CACHE:-/var/cache/tracejob}"
BIN="$CACHE/bin"
TARGET="$BIN/alertmanager-$ALERTMANAGER_VERSION"

if [ -x "$TARGET" ]; then
  ln -sfn "$(basename "$TARGET")" "$BIN/alertmanager"
  echo "$BIN"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  [ -x /usr/local/go/bin/go ] && PATH="$PATH:/usr/local/go/bin"
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build-alertmanager: the Go toolchain is missing; the Alertmanager tests will skip" >&2
  exit 2
fi

mkdir -p "$BIN"
WORK="$CACHE/alertmanager-build/$ALERTMANAGER_VERSION"
mkdir -p "$WORK"
cd "$WORK"
[ -f go.mod ] || go mod init tracejob.test/alertmanager >/dev/null 2>&1

export GOFLAGS="${GOFLAGS:-} -mod=mod -p=2"
echo "build-alertmanager: resolving github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION in $WORK" >&2
nice -n 10 go get "github.com/prometheus/alertmanager/cmd/alertmanager@$ALERTMANAGER_VERSION" >&2
echo "build-alertmanager: building alertmanager $ALERTMANAGER_VERSION" >&2
ldflags="-s -w -X github.com/prometheus/common/version.Version=${ALERTMANAGER_VERSION#v}"
nice -n 10 go build -trimpath -ldflags="$ldflags" -o "$TARGET.tmp" github.com/prometheus/alertmanager/cmd/alertmanager
mv "$TARGET.tmp" "$TARGET"
ln -sfn "$(basename "$TARGET")" "$BIN/alertmanager"
echo "$BIN"
