/**
 * tracejob on a real Kubernetes node: kubelet + containerd + runc, CNI, kube-proxy, CoreDNS, with
 * tracejob deployed by `kubectl apply -k test/cluster/overlay` from images built from its own
 * Dockerfiles (node-cluster.ts). Traces go through the deployed API (the `tracejob` CLI), the
 * deployed scheduler creates the runner pod, the runner traces real containers and uploads through
 * the Service.
 *
 * Brings the cluster up when it is not (and down again at the end); reuses one that
 * `npm run cluster:up` started (and leaves it up).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { binDir, CLUSTER, clusterSkipReason, kubectl, killDaemon, repoRoot, restartDaemon, useCluster, type ClusterEnv, type ClusterLease } from './node-cluster.ts';

const NS = `tj-e2e-${process.pid}`;
const RUNNER_NS = 'tracejob-runners';

// Runs wherever the node can start (root, the Go binaries built, buildah/mmdebstrap/iptables/nft
// and the CNI plugins installed); skipped with the reason otherwise. On CI a machine with the
// binaries built must run it: never pass by skipping (cluster:up then fails, naming what is missing).
const skipReason = clusterSkipReason();
const mustRun = process.env.CI === 'true' && existsSync(join(binDir, 'kubelet'));

interface Json {
  [k: string]: unknown;
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let env: ClusterEnv;

function cli(args: string[], opts: { onStderr?: (chunk: string) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/tracejob.js'), ...args], {
      env: { ...process.env, TRACEJOB_SERVER: env.TRACEJOB_SERVER, TRACEJOB_TOKEN: env.TRACEJOB_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      opts.onStderr?.(d);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${env.TRACEJOB_SERVER}${path}`, { ...init, headers: { authorization: `Bearer ${env.TRACEJOB_TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
}

async function traceJson(id: string): Promise<Json> {
  const res = await api(`/v1/traces/${id}`);
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as Json;
}

async function events(id: string): Promise<Json[]> {
  const res = await api(`/v1/traces/${id}/events?limit=10000`);
  assert.equal(res.status, 200, await res.clone().text());
  const body = (await res.json()) as { items: Json[] };
  return body.items;
}

async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

function podsOf(selector: string): { name: string; ip: string; containerIds: string[] }[] {
  const out = kubectl(['-n', NS, 'get', 'pods', '-l', selector, '-o', 'json']).stdout;
  const list = JSON.parse(out) as { items: { metadata: { name: string }; status: { podIP?: string; containerStatuses?: { containerID?: string }[] } }[] };
  return list.items.map((p) => ({ name: p.metadata.name, ip: p.status.podIP ?? '', containerIds: (p.status.containerStatuses ?? []).map((c) => c.containerID ?? '') }));
}

function runnerObjects(): string {
  return kubectl(['-n', RUNNER_NS, 'get', 'pods,secrets', '-l', 'app.kubernetes.io/managed-by=tracejob', '-o', 'name']).stdout.trim();
}

function workload(name: string, replicas: number, script: string, extraEnv: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name,
              image: 'localhost/busybox:dev',
              imagePullPolicy: 'Never',
              command: ['/bin/sh', '-c', script],
              env: Object.entries(extraEnv).map(([k, v]) => ({ name: k, value: v })),
            },
          ],
        },
      },
    },
  });
}

describe('tracejob on a real node (kubelet, containerd, runc)', { skip: mustRun ? false : skipReason }, () => {
  let lease: ClusterLease | undefined;

  before(async () => {
    lease = await useCluster();
    env = lease.env;
    kubectl(['create', 'namespace', NS]);
    // Absolute paths: busybox's shell would run its own applets without an exec.
    kubectl(['apply', '-f', '-'], { input: workload('web', 2, '/bin/httpd -p 8080 -h /tmp; while :; do /bin/date >/dev/null; /bin/sleep 0.5; done') });
    kubectl(['apply', '-f', '-'], { input: workload('db', 1, 'while :; do /bin/uname >/dev/null; /bin/sleep 0.5; done') });
    for (const d of ['web', 'db']) kubectl(['-n', NS, 'rollout', 'status', `deploy/${d}`, '--timeout=180s']);
  }, { timeout: 3_600_000 });

  after(async () => {
    await restartDaemon('kubelet').catch(() => undefined);
    if (env) kubectl(['delete', 'namespace', NS, '--wait=false'], { allowFail: true });
    // Down only when this file brought it up (after any other checkout's test using it is done).
    const left = (await lease?.release()) ?? [];
    assert.deepEqual(left, [], `cluster:down left behind: ${left.join(', ')}`);
  }, { timeout: 1_800_000 });

  test('exec of app=web through the deployed API: the runner pod traces the right containers and goes away', async () => {
    const web = podsOf('app=web');
    const db = podsOf('app=db');
    assert.equal(web.length, 2);
    const res = await cli(['run', 'exec', '-n', NS, '-l', 'app=web', '-d', '5s', '--wait', '-o', 'json']);
    assert.equal(res.code, 0, `tracejob run failed:\n${res.stderr}\n${res.stdout}`);
    const trace = (JSON.parse(res.stdout) as { trace: Json }).trace;
    assert.equal(trace.status, 'succeeded', res.stdout);
    const id = trace.id as string;
    const nodes = trace.nodes as Json[];
    assert.deepEqual(nodes.map((n) => [n.node, n.status]), [['tj-node', 'succeeded']]);

    const evs = await events(id);
    const dates = evs.filter((e) => e.comm === 'date');
    assert.ok(dates.length > 0, `no exec of /bin/date among ${evs.length} events`);
    const webPods = new Set(web.map((p) => p.name));
    for (const e of evs) {
      assert.equal(e.namespace, NS);
      assert.ok(webPods.has(e.pod as string), `event from pod ${String(e.pod)}, not a web pod`);
      assert.equal(e.container, 'web');
      assert.equal(e.node, 'tj-node');
    }
    // Both replicas traced; nothing from app=db.
    assert.deepEqual(new Set(dates.map((e) => e.pod)), webPods);
    assert.ok(!evs.some((e) => db.some((p) => p.name === e.pod) || e.comm === 'uname'));
    await waitUntil('runner pod and Secret gone', 60_000, () => (runnerObjects() === '' ? true : undefined));
  });

  test('cancel mid-trace: the runner pod is deleted, uploads what it saw, and the trace ends cancelled', async () => {
    const post = await api('/v1/traces', { method: 'POST', body: JSON.stringify({ gadget: 'exec', durationSeconds: 60, target: { namespace: NS, labelSelector: 'app=web' } }) });
    assert.equal(post.status, 202, await post.clone().text());
    const { id } = (await post.json()) as { id: string };
    await waitUntil('tracing on the node', 120_000, async () => {
      const t = await traceJson(id);
      const n = (t.nodes as Json[] | undefined)?.[0];
      return n && (n.tracingSince || (typeof n.events === 'number' && n.events > 0)) ? true : undefined;
    });
    const t0 = Date.now();
    const cancel = await cli(['cancel', id]);
    assert.equal(cancel.code, 0, cancel.stderr);
    const final = await waitUntil('trace ended', 90_000, async () => {
      const t = await traceJson(id);
      return ['succeeded', 'partial', 'failed', 'cancelled'].includes(t.status as string) ? t : undefined;
    });
    assert.equal(final.status, 'cancelled', JSON.stringify(final));
    assert.ok(Date.now() - t0 < 55_000, 'the trace ran to its end instead of stopping');
    await waitUntil('runner pod and Secret gone', 60_000, () => (runnerObjects() === '' ? true : undefined));
  });

  test('tcpconnect between two workload pods on the pod network', async () => {
    const web = podsOf('app=web');
    const target = web[0]!;
    kubectl(['apply', '-f', '-'], { input: workload('client', 1, 'while :; do /bin/wget -q -O /dev/null "http://$WEB_IP:8080/" ; /bin/sleep 0.5; done', { WEB_IP: target.ip }) });
    kubectl(['-n', NS, 'rollout', 'status', 'deploy/client', '--timeout=180s']);
    const client = podsOf('app=client');
    const res = await cli(['run', 'tcpconnect', '-n', NS, '-l', 'app=client', '-d', '4s', '--wait', '-o', 'json']);
    assert.equal(res.code, 0, `tracejob run failed:\n${res.stderr}\n${res.stdout}`);
    const trace = (JSON.parse(res.stdout) as { trace: Json }).trace;
    const evs = await events(trace.id as string);
    const toWeb = evs.filter((e) => e.daddr === target.ip && e.dport === 8080);
    assert.ok(toWeb.length > 0, `no connect to ${target.ip}:8080 among ${JSON.stringify(evs.slice(0, 5))}`);
    for (const e of toWeb) {
      assert.equal(e.pod, client[0]!.name);
      assert.equal(e.saddr, client[0]!.ip);
      assert.equal(e.result, 'established');
    }
    kubectl(['-n', NS, 'delete', 'deploy/client', '--wait=false']);
  });

  test('the node dies mid-trace (kubelet killed): the trace ends with a reason naming the node', async () => {
    const post = await api('/v1/traces', { method: 'POST', body: JSON.stringify({ gadget: 'exec', durationSeconds: 30, target: { namespace: NS, labelSelector: 'app=web' } }) });
    assert.equal(post.status, 202, await post.clone().text());
    const { id } = (await post.json()) as { id: string };
    await waitUntil('tracing on the node', 120_000, async () => {
      const n = ((await traceJson(id)).nodes as Json[] | undefined)?.[0];
      return n && (n.tracingSince || (typeof n.events === 'number' && n.events > 0)) ? true : undefined;
    });
    killDaemon('kubelet');
    let final: Json;
    try {
      // The node goes NotReady after the controller-manager's --node-monitor-grace-period (20 s)
      // without a heartbeat and the scheduler's node watch gives its part up; generous deadline
      // (the last-resort timeout is over 5 min).
      final = await waitUntil('trace ended', 400_000, async () => {
        const t = await traceJson(id);
        return ['succeeded', 'partial', 'failed', 'cancelled'].includes(t.status as string) ? t : undefined;
      });
    } finally {
      await restartDaemon('kubelet');
    }
    // The only node is lost: `failed` here (`partial` when other nodes' results are kept).
    assert.ok(final.status === 'partial' || final.status === 'failed', JSON.stringify(final));
    const node = (final.nodes as Json[])[0]!;
    assert.equal(node.node, CLUSTER.nodeName);
    assert.equal(node.status, 'failed', JSON.stringify(node));
    // "node tj-node became NotReady during the trace (…); its results are lost", not a timeout.
    assert.match(String(node.error), new RegExp(`\\bnode ${CLUSTER.nodeName}\\b.*NotReady`), `the reason does not say node ${CLUSTER.nodeName} was lost: ${JSON.stringify(node)}`);
    await waitUntil('runner pod and Secret gone', 120_000, () => (runnerObjects() === '' ? true : undefined));
  });
});
