#!/usr/bin/env bash
# The main job, end to end on this machine: start the all-in-one server (API + scheduler + local
# runner + private redis-server), run a demo workload in its own cgroup, trace its execs for a few
# seconds through the REST API, and print the trace's summary. Needs root (BPF, cgroups).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-8080}"
export PORT DATA_DIR="${DATA_DIR:-$PWD/.data/demo}"
base="http://127.0.0.1:$PORT"
duration="${DEMO_DURATION:-5}"

cgroot=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$cgroot" ] || { echo "demo: no cgroup v2 mount" >&2; exit 1; }
demo_cg="$cgroot/tracejob-demo-$$"

server_pid=""
workload_pid=""
cleanup() {
  [ -n "$workload_pid" ] && kill "$workload_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  if [ -d "$demo_cg" ]; then
    while read -r p; do kill -9 "$p" 2>/dev/null || true; done < "$demo_cg/cgroup.procs"
    sleep 0.2; rmdir "$demo_cg" 2>/dev/null || true
  fi
}
trap cleanup EXIT

echo "demo: starting the all-in-one server on $base (logs: $DATA_DIR/server.log)"
mkdir -p "$DATA_DIR"
node bin/tracejob.js serve >"$DATA_DIR/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "demo: server exited:" >&2; tail -20 "$DATA_DIR/server.log" >&2; exit 1; }
  sleep 0.2
done
curl -fsS "$base/readyz" >/dev/null || { echo "demo: server not ready" >&2; tail -20 "$DATA_DIR/server.log" >&2; exit 1; }

echo "demo: starting a workload in cgroup ${demo_cg#"$cgroot"/} (it runs date, uname and ls in a loop)"
mkdir "$demo_cg"
sh -c 'echo $$ > "$1/cgroup.procs"; while :; do date >/dev/null; uname -a >/dev/null; ls /tmp >/dev/null; sleep 0.3; done' sh "$demo_cg" &
workload_pid=$!

rel="${demo_cg#"$cgroot"/}"
echo "demo: POST /v1/traces  gadget=exec  target.cgroupPaths=[$rel]  durationSeconds=$duration"
posted_ms=$(date +%s%3N)
answer=$(curl -fsS -X POST "$base/v1/traces" -H 'content-type: application/json' \
  -d "{\"gadget\":\"exec\",\"durationSeconds\":$duration,\"target\":{\"cgroupPaths\":[\"$rel\"]}}")
echo "$answer"
id=$(node -e 'console.log(JSON.parse(process.argv[1]).id)' "$answer")

status=queued
said_tracing=""
for _ in $(seq 1 $(( (duration + 30) * 5 ))); do
  # "status tracingSince": the node's tracingSince appears the moment its gadget is attached.
  read -r status since < <(curl -fsS "$base/v1/traces/$id" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const t=JSON.parse(s);console.log(t.status, t.nodes[0]?.tracingSince ?? "-")})')
  if [ -z "$said_tracing" ] && [ "$since" != "-" ]; then
    echo "demo: tracing on the node since $since: POST → tracing took $(node -e 'console.log(Date.parse(process.argv[1]) - Number(process.argv[2]))' "$since" "$posted_ms") ms"
    said_tracing=1
  fi
  case "$status" in succeeded|partial|failed|cancelled) break ;; esac
  sleep 0.2
done
echo "demo: trace $id ended: $status"
echo "demo: GET /v1/traces/$id"
curl -fsS "$base/v1/traces/$id" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(JSON.parse(s),null,2)))'
echo "demo: first events (GET /v1/traces/$id/events?limit=5)"
curl -fsS "$base/v1/traces/$id/events?limit=5" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const e of JSON.parse(s).items) console.log(JSON.stringify(e))})'
curl -fsS -o "$DATA_DIR/trace-$id.tar.gz" "$base/v1/traces/$id/bundle"
echo "demo: bundle saved to $DATA_DIR/trace-$id.tar.gz:"; tar -tzf "$DATA_DIR/trace-$id.tar.gz"
echo "demo: the summary (summary.json of the bundle)"
tar -xzOf "$DATA_DIR/trace-$id.tar.gz" summary.json | node -e '
let s = "";
process.stdin.on("data", (d) => (s += d)).on("end", () => {
  const sum = JSON.parse(s);
  const line = (k, v) => console.log(`  ${k.padEnd(14)} ${v}`);
  line("events", sum.events);
  line("lost events", sum.lostEvents);
  for (const [field, top] of Object.entries(sum.top ?? {})) {
    line(`top ${field}`, top.slice(0, 5).map((t) => `${t.value} (${t.count})`).join(", "));
  }
});'

[ "$status" = succeeded ]
