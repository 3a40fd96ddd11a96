/**
 * A real Kubernetes control plane for tests: etcd + kube-apiserver on loopback, RBAC on,
 * ServiceAccount token signing with keys generated for this run, a static admin token.
 * No kubelet, scheduler or controller-manager: the tests play the kubelet (test-kubelet.ts) and
 * create what controllers would (ServiceAccounts, for instance).
 *
 * The binaries come from test/k8s/build-control-plane.sh (cached under
 * ${TRACEJOB_CACHE:-/var/cache/tracejob}/bin), or KUBE_APISERVER_BIN / ETCD_BIN.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'node:https';
import { AuthenticationV1Api, CoreV1Api, KubeConfig } from '../../scheduler/src/kubernetes/kubernetes-client.ts';
import { freeLoopbackPort } from '../../state/src/redis-server-process.ts';

const cacheDir = process.env.TRACEJOB_CACHE || '/var/cache/tracejob';
const repoRoot = new URL('../..', import.meta.url).pathname;

export function controlPlaneBinaries(): { apiserver: string; etcd: string } {
  return {
    apiserver: process.env.KUBE_APISERVER_BIN || join(cacheDir, 'bin', 'kube-apiserver'),
    etcd: process.env.ETCD_BIN || join(cacheDir, 'bin', 'etcd'),
  };
}

/** Why the Kubernetes tests cannot run here, or undefined when they can. */
export function controlPlaneSkipReason(): string | undefined {
  const { apiserver, etcd } = controlPlaneBinaries();
  if (existsSync(apiserver) && existsSync(etcd)) return undefined;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    return `kube-apiserver/etcd are not built (${apiserver}) and the Go toolchain is missing: install Go >= 1.25 and run test/k8s/build-control-plane.sh`;
  }
  return `kube-apiserver/etcd are not built yet (${apiserver}): run test/k8s/build-control-plane.sh (builds them from the Go module proxy, ~30 min, cached)`;
}

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  adminToken: string;
  /** A KubeConfig with the admin credential (system:masters). */
  adminKubeConfig(): KubeConfig;
  /** A KubeConfig with the given bearer token (e.g. a ServiceAccount's); `server` to go through a proxy. */
  kubeConfigWithToken(token: string, server?: string): KubeConfig;
  /** Total of apiserver_request_total (every request the apiserver served). */
  requestCount(): Promise<number>;
  dataDir: string;
  /** etcd's client URL (its HTTP gateway takes /v3/kv/compaction). */
  etcdUrl: string;
  /** Compacts etcd up to its current revision: every older resourceVersion is gone (410). */
  compactEtcd(): Promise<number>;
  stop(): Promise<void>;
}

/** GET over TLS without verifying the apiserver's self-signed certificate (readiness and metrics only). */
function getInsecure(url: string, token: string, timeoutMs = 5000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

function startProcess(bin: string, args: string[], logFile: string): ChildProcess {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(logFile);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export function kubeConfigFor(server: string, caData: string | undefined, token: string, name = 'user'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [caData ? { name: 'test', server, caData, skipTLSVerify: false } : { name: 'test', server, skipTLSVerify: true }],
    users: [{ name, token }],
    contexts: [{ name: 'test', cluster: 'test', user: name }],
    currentContext: 'test',
  });
  return kc;
}

/** Starts etcd and kube-apiserver; resolves once /readyz answers ok. */
export async function startControlPlane(opts: { logDir?: string; extraApiserverArgs?: string[] } = {}): Promise<ControlPlane> {
  const { apiserver, etcd } = controlPlaneBinaries();
  const dataDir = mkdtempSync(join(tmpdir(), 'tracejob-k8s-'));
  const logDir = opts.logDir ?? dataDir;
  const [etcdClient, etcdPeer, securePort] = [await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort()];
  const adminToken = randomBytes(24).toString('hex');
  writeFileSync(join(dataDir, 'tokens.csv'), `${adminToken},tracejob-test-admin,tracejob-test-admin,"system:masters"\n`, { mode: 0o600 });
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dataDir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dataDir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

  let etcdProc: ChildProcess | undefined;
  let apiProc: ChildProcess | undefined;
  const stop = async () => {
    await stopProcess(apiProc);
    await stopProcess(etcdProc);
    if (!process.env.TRACEJOB_KEEP_K8S_DATA) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const etcdLog = join(logDir, 'etcd.log');
    etcdProc = startProcess(
      etcd,
      [
        '--name=default',
        `--data-dir=${join(dataDir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      etcdLog,
    );
    const apiLog = join(logDir, 'kube-apiserver.log');
    const certDir = join(dataDir, 'certs');
    const apiArgs = [
        `--etcd-servers=http://127.0.0.1:${etcdClient}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${securePort}`,
        `--cert-dir=${certDir}`,
        '--authorization-mode=Node,RBAC',
        `--token-auth-file=${join(dataDir, 'tokens.csv')}`,
        '--anonymous-auth=false',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${join(dataDir, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(dataDir, 'sa.key')}`,
        '--service-cluster-ip-range=10.96.0.0/16',
        '--allow-privileged=true',
        // The defaults (NamespaceLifecycle, ServiceAccount, PodSecurity, LimitRanger, quotas, ...) stay on;
        // these would wait for controllers that do not run here.
        '--disable-admission-plugins=DefaultStorageClass,StorageObjectInUseProtection,PersistentVolumeClaimResize,DefaultTolerationSeconds,TaintNodesByCondition',
        '--profiling=false',
        // Compact etcd often, so that old resourceVersions really go away (410 Gone) during tests.
        '--etcd-compaction-interval=10s',
        '--v=1',
        ...(opts.extraApiserverArgs ?? []),
    ];
    const server = `https://127.0.0.1:${securePort}`;
    const launchApiserver = async () => {
      const proc = startProcess(apiserver, apiArgs, apiLog);
      apiProc = proc;
      const deadline = Date.now() + 120_000;
      let last = '';
      for (;;) {
        if (etcdProc!.exitCode !== null) throw new Error(`etcd exited (${etcdProc!.exitCode}):\n${logTail(etcdLog)}`);
        if (proc.exitCode !== null) throw new Error(`kube-apiserver exited (${proc.exitCode}):\n${logTail(apiLog)}`);
        try {
          const res = await getInsecure(`${server}/readyz`, adminToken, 2000);
          last = `${res.status} ${res.text}`;
          if (res.status === 200) break;
        } catch (err) {
          last = (err as Error).message;
        }
        if (Date.now() > deadline) throw new Error(`kube-apiserver not ready after 120 s (last: ${last.slice(0, 300)}):\n${logTail(apiLog)}`);
        await sleep(250);
      }
    };
    await launchApiserver();
    let caData: string | undefined;
    const certFile = join(certDir, 'apiserver.crt');
    if (existsSync(certFile)) caData = readFileSync(certFile).toString('base64');
    const kubeConfigWithToken = (token: string, via = server) => kubeConfigFor(via, caData, token);
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    return {
      server,
      adminToken,
      dataDir,
      etcdUrl,
      async compactEtcd() {
        const range = await fetch(`${etcdUrl}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('/').toString('base64') }) });
        const revision = Number(((await range.json()) as { header?: { revision?: string } }).header?.revision);
        const res = await fetch(`${etcdUrl}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision, physical: true }) });
        const text = await res.text();
        if (!res.ok && !text.includes('has been compacted')) throw new Error(`etcd compaction failed: ${res.status} ${text}`);
        return revision;
      },
      adminKubeConfig: () => kubeConfigWithToken(adminToken),
      kubeConfigWithToken,
      async requestCount() {
        const { text } = await getInsecure(`${server}/metrics`, adminToken);
        let total = 0;
        for (const line of text.split('\n')) {
          if (line.startsWith('apiserver_request_total{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
        }
        return total;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Creates a ServiceAccount token through the TokenRequest API (as `kubectl create token` does). */
export async function serviceAccountToken(admin: KubeConfig, namespace: string, name: string, seconds = 3600): Promise<string> {
  const core = admin.makeApiClient(CoreV1Api);
  const res = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: seconds } } });
  const token = res.status?.token;
  if (!token) throw new Error(`no token for ServiceAccount ${namespace}/${name}`);
  return token;
}

/** Who the apiserver thinks the credential of `kc` is (SelfSubjectReview). */
export async function whoAmI(kc: KubeConfig): Promise<string | undefined> {
  const auth = kc.makeApiClient(AuthenticationV1Api);
  const review = await auth.createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
  return review.status?.userInfo?.username;
}

export { repoRoot };
