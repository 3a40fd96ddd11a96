/**
 * A real single-node Kubernetes cluster on this machine, started and stopped by the project
 * (`npm run cluster:up` / `cluster:down`, and the real-node e2e): etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, containerd + runc, the kubelet, kube-proxy (iptables)
 * and CoreDNS, with tracejob deployed by `kubectl apply -k test/cluster/overlay` from images built
 * from its own Dockerfiles.
 *
 * The node's InternalIP lives on an interface of its own (tj-node0, one end of a veth pair,
 * 10.213.0.1), pods on a
 * bridge of their own (tj-br0, 10.214.0.0/24, Debian's CNI plugins), Services in 10.215.0.0/24:
 * nothing touches the machine's own network. Everything it creates is recorded under STATE_DIR and
 * removed by clusterDown(): processes (by pid), mounts under STATE_DIR, the two interfaces,
 * kubepods cgroups, the KUBE- and CNI- iptables chains and the sysctls the kubelet and the bridge
 * change.
 *
 * The daemons outlive the process that started them (cluster:up returns; the tests reuse a
 * running cluster); their pids are in STATE_DIR/run.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeLoopbackPort } from '../../state/src/redis-server-process.ts';

export const repoRoot = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const cacheDir = process.env.TRACEJOB_CACHE || '/var/cache/tracejob';
export const binDir = join(cacheDir, 'bin');

/** Fixed: one such cluster per machine (its interfaces, address ranges and kubepods are global). */
export const CLUSTER = {
  stateDir: '/var/lib/tracejob-cluster',
  nodeName: 'tj-node',
  nodeIface: 'tj-node0',
  nodeIp: '10.213.0.1',
  bridge: 'tj-br0',
  podCidr: '10.214.0.0/24',
  podGateway: '10.214.0.1',
  serviceCidr: '10.215.0.0/24',
  dnsIp: '10.215.0.10',
  apiserverPort: 6443,
} as const;

export const artifactsDir = join(repoRoot, 'test-artifacts', 'cluster');
/** The env file of the checkout that ran cluster:up (a copy of the machine-wide STATE_DIR/env). */
export const envFile = join(artifactsDir, 'env');
const S = CLUSTER.stateDir;
const runDir = join(S, 'run');
const logDir = join(artifactsDir, 'logs');
const containerdSock = join(S, 'containerd', 'containerd.sock');
/**
 * containerd's root (content store, unpacked image layers) outlives a cluster, in the cache: the
 * next cluster:up imports only images whose build changed. Kept only when cluster:down stopped
 * containerd with no containers left (the marker file); otherwise the next cluster:up starts it
 * afresh.
 */
const containerdRoot = join(cacheDir, 'containerd-root');
const containerdRootClean = join(containerdRoot, 'tracejob-clean');
const importedImagesFile = join(containerdRoot, 'tracejob-imported.json');
// Machine-wide, not per checkout: a test in another worktree finds (and reuses) the running cluster.
const stateEnvFile = join(S, 'env');
const kubeconfigFile = join(S, 'kubeconfig');
const usersDir = join(S, 'users');
/** Written by `npm run cluster:up`: the cluster stays up until `npm run cluster:down`, whoever started it. */
const keepFile = join(S, 'keep');
/** Held while a cluster is brought up or torn down (one cluster per machine, any checkout). */
const LOCK_FILE = '/run/tracejob-cluster.lock';

const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy', 'kubectl', 'containerd', 'containerd-shim-runc-v2', 'ctr', 'runc', 'coredns'] as const;
type Binary = (typeof BINARIES)[number];
const bin = (name: Binary) => join(binDir, name);

/** The sysctls the kubelet sets at each start (its "kernel tunables"). */
const KUBELET_SYSCTLS = ['kernel/panic', 'kernel/panic_on_oops', 'vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes'] as const;
/** ... and ip_forward (pods are routed through the host). */
const SYSCTLS = [...KUBELET_SYSCTLS, 'net/ipv4/ip_forward'] as const;

/** What the node runs (build-images.sh's archives; the node:20 base images are only built on). */
export const NODE_IMAGES = ['registry.k8s.io/pause:3.10.1', 'localhost/coredns:dev', 'docker.io/library/redis:7.2-alpine', 'localhost/busybox:dev', 'localhost/tracejob:dev', 'localhost/tracejob-runner:dev'] as const;

export interface ClusterEnv {
  KUBECONFIG: string;
  TRACEJOB_SERVER: string;
  TRACEJOB_TOKEN: string;
}

function log(msg: string): void {
  process.stderr.write(`cluster: ${msg}\n`);
}

function run(cmd: string, args: readonly string[], opts: { input?: string; allowFail?: boolean; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  const res = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 });
  if (!opts.allowFail && (res.error || res.status !== 0)) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${res.error?.message ?? `exit ${res.status}`}):\n${(res.stderr || res.stdout || '').slice(-3000)}`);
  }
  return res;
}

export function kubectl(args: readonly string[], opts: { input?: string; allowFail?: boolean } = {}): SpawnSyncReturns<string> {
  // Its discovery cache under the state directory, not ~/.kube.
  return run(bin('kubectl'), ['--kubeconfig', kubeconfigFile, '--cache-dir', join(S, 'kubectl-cache'), ...args], opts);
}

function ctr(args: readonly string[], opts: { allowFail?: boolean } = {}): SpawnSyncReturns<string> {
  return run(bin('ctr'), ['--address', containerdSock, '-n', 'k8s.io', ...args], opts);
}

/** Why the real node cannot start here, or undefined when it can. */
export function clusterSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'the real-node cluster needs root (kubelet, containerd, network interfaces)';
  const missing = BINARIES.filter((b) => !existsSync(bin(b)));
  if (missing.length > 0) {
    return `not built: ${missing.join(', ')} under ${binDir} (run scripts/build-test-binaries.sh: test/k8s/build-control-plane.sh and test/cluster/build-{node,runtime,coredns}.sh build them from the Go module proxy)`;
  }
  for (const tool of ['buildah', 'mmdebstrap', 'iptables', 'ip6tables', 'nft']) {
    if (run('sh', ['-c', `command -v ${tool}`], { allowFail: true }).status !== 0) return `${tool} is missing (scripts/setup.sh --for-tests installs it: ${tool === 'nft' ? 'nftables' : tool})`;
  }
  if (!existsSync('/usr/lib/cni/bridge')) return 'the CNI plugins are missing (apt-get install containernetworking-plugins)';
  if (!existsSync('/sys/fs/cgroup/unified') && !existsSync('/sys/fs/cgroup/cgroup.controllers')) return 'no cgroup v2 mount';
  return undefined;
}

// ---------------------------------------------------------------- daemons

function pidFile(name: string): string {
  return join(runDir, `${name}.pid`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function daemonPid(name: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile(name), 'utf8'));
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Starts a daemon in its own session, logging to logs/<name>.log; its pid goes to run/<name>.pid. */
function startDaemon(name: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): number {
  mkdirSync(logDir, { recursive: true });
  const fd = openSync(join(logDir, `${name}.log`), 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  child.unref();
  if (!child.pid) throw new Error(`cannot start ${name}`);
  writeFileSync(pidFile(name), String(child.pid));
  writeFileSync(join(runDir, `${name}.cmd.json`), JSON.stringify({ cmd, args, env: env === process.env ? undefined : env }));
  return child.pid;
}

/** Starts a daemon again as cluster:up started it (after a test killed it); resolves once its node is Ready again for the kubelet. */
export async function restartDaemon(name: string): Promise<void> {
  if (daemonPid(name)) return;
  const { cmd, args, env } = JSON.parse(readFileSync(join(runDir, `${name}.cmd.json`), 'utf8')) as { cmd: string; args: string[]; env?: NodeJS.ProcessEnv };
  startDaemon(name, cmd, args, env ?? process.env);
  if (name === 'kubelet') {
    await waitFor('node Ready again', 180_000, () => (nodeReady() ? true : undefined), 'kubelet');
    restoreKubeletSysctls();
  }
}

function nodeReady(): boolean {
  const res = kubectl(['get', 'node', CLUSTER.nodeName, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], { allowFail: true });
  return res.stdout.trim() === 'True';
}

/** The kubelet sets kernel.panic, panic_on_oops, vm.overcommit_memory, … at each start: give the machine its own back. */
function restoreKubeletSysctls(): void {
  const saved = JSON.parse(readFileSync(join(S, 'sysctls.json'), 'utf8')) as Record<string, string>;
  for (const k of KUBELET_SYSCTLS) if (saved[k] !== undefined && readSysctl(k) !== saved[k]) writeSysctl(k, saved[k]);
}

function logTail(name: string, lines = 25): string {
  try {
    return readFileSync(join(logDir, `${name}.log`), 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  while (alive(pid)) await sleep(50);
}

export async function stopDaemon(name: string, graceMs?: number): Promise<void> {
  const pid = daemonPid(name);
  if (pid) await stopPid(pid, graceMs);
  rmSync(pidFile(name), { force: true });
}

/** Kills a daemon at once (a test's "the node dies"). */
export function killDaemon(name: string): void {
  const pid = daemonPid(name);
  if (pid) process.kill(pid, 'SIGKILL');
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, daemon?: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (daemon && !daemonPid(daemon)) throw new Error(`${daemon} exited while waiting for ${what}:\n${logTail(daemon)}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs / 1000} s${last ? ` (last: ${last.slice(0, 500)})` : ''}${daemon ? `\n${logTail(daemon)}` : ''}`);
    await sleep(200);
  }
}

function httpsGet(url: string, token?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const req = request(url, { headers, rejectUnauthorized: false, timeout: 3000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------- host state

function readSysctl(key: string): string {
  return readFileSync(`/proc/sys/${key}`, 'utf8').trim();
}

function writeSysctl(key: string, value: string): void {
  writeFileSync(`/proc/sys/${key}`, value);
}

function linkExists(name: string): boolean {
  return run('ip', ['link', 'show', name], { allowFail: true }).status === 0;
}

/** Mount points at or below `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)))
    .map((m) => m.replace(/\\040/g, ' '));
  return [...new Set(mounts)].sort((a, b) => b.length - a.length);
}

/** Every cgroup hierarchy's kubepods directories (the kubelet's), deepest first. */
function kubepodsCgroups(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
    } catch {
      return;
    }
    for (const e of entries) walk(e);
    out.push(dir);
  };
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
    for (const top of ['kubepods', 'kubepods.slice']) {
      const dir = join('/sys/fs/cgroup', hierarchy, top);
      if (existsSync(dir)) walk(dir);
    }
  }
  for (const top of ['kubepods', 'kubepods.slice']) {
    const dir = join('/sys/fs/cgroup', top);
    if (existsSync(dir) && existsSync('/sys/fs/cgroup/cgroup.controllers')) walk(dir);
  }
  return out;
}

const IPTABLES = ['iptables', 'ip6tables'] as const;
const IPTABLES_TABLES = ['filter', 'nat', 'mangle', 'raw'] as const;

/** The iptables chains (IPv4 and IPv6) the kubelet, kube-proxy and the CNI plugins create (KUBE-*, CNI-*). */
function ourChains(): { cmd: string; table: string; chain: string }[] {
  const out: { cmd: string; table: string; chain: string }[] = [];
  for (const cmd of IPTABLES) {
    for (const table of IPTABLES_TABLES) {
      const res = run(cmd, ['-t', table, '-S'], { allowFail: true });
      for (const line of res.stdout.split('\n')) {
        const m = /^-N ((KUBE|CNI)-\S+)$/.exec(line);
        if (m) out.push({ cmd, table, chain: m[1]! });
      }
    }
  }
  return out;
}

/** Deletes every rule that jumps to one of our chains (IPv4 and IPv6), then the chains. */
function removeChains(): void {
  for (const cmd of IPTABLES) {
    for (const table of IPTABLES_TABLES) {
      const chains = ourChains().filter((c) => c.cmd === cmd && c.table === table);
      if (chains.length === 0) continue;
      const rules = run(cmd, ['-t', table, '-S'], { allowFail: true }).stdout.split('\n');
      for (const rule of rules) {
        if (/^-A /.test(rule) && / -j (KUBE|CNI)-/.test(rule) && !/^-A (KUBE|CNI)-/.test(rule)) {
          run('sh', ['-c', `${cmd} -t ${table} ${rule.replace(/^-A /, '-D ')}`], { allowFail: true });
        }
      }
      for (const c of chains) run(cmd, ['-t', table, '-F', c.chain], { allowFail: true });
      for (const c of chains) run(cmd, ['-t', table, '-X', c.chain], { allowFail: true });
    }
  }
}

interface NftTable {
  family: string;
  name: string;
  /** Rules in any of its chains. */
  rules: number;
  /** Chains other than base chains with policy accept (what iptables-nft makes of a bare table). */
  ownChains: number;
}

/** The nftables tables of the machine's network namespace (undefined without the nft tool). */
function nftTables(): NftTable[] | undefined {
  const res = run('nft', ['-j', 'list', 'ruleset'], { allowFail: true });
  if (res.status !== 0) return undefined;
  const items = (JSON.parse(res.stdout) as { nftables: Record<string, { family: string; name?: string; table?: string; type?: string; policy?: string }>[] }).nftables;
  const tables = new Map<string, NftTable>();
  const key = (family: string, name: string) => `${family} ${name}`;
  for (const item of items) {
    if (item.table) tables.set(key(item.table.family, item.table.name!), { family: item.table.family, name: item.table.name!, rules: 0, ownChains: 0 });
  }
  for (const item of items) {
    const t = item.chain ? tables.get(key(item.chain.family, item.chain.table!)) : item.rule ? tables.get(key(item.rule.family, item.rule.table!)) : undefined;
    if (!t) continue;
    if (item.rule) t.rules++;
    else if (!(item.chain!.type && (item.chain!.policy ?? 'accept') === 'accept')) t.ownChains++;
  }
  return [...tables.values()];
}

const tableName = (t: Pick<NftTable, 'family' | 'name'>) => `${t.family} ${t.name}`;

/**
 * The nftables tables a cluster made: kube-proxy's own (`kube-proxy`, made by its nftables code
 * even in iptables mode) and, on an iptables-nft machine, the iptables tables that did not exist
 * before cluster:up (`baseline`) and hold nothing of anybody else's now that our chains are gone.
 */
function ourNftTables(baseline: readonly string[] | undefined): NftTable[] {
  const before = new Set(baseline ?? []);
  return (nftTables() ?? []).filter((t) => t.name === 'kube-proxy' || (baseline !== undefined && !before.has(tableName(t)) && t.rules === 0 && t.ownChains === 0));
}

function removeNftTables(baseline: readonly string[] | undefined): void {
  for (const t of ourNftTables(baseline)) run('nft', ['delete', 'table', t.family, t.name], { allowFail: true });
}

function readNftBaseline(): string[] | undefined {
  try {
    return JSON.parse(readFileSync(join(S, 'nft-tables.json'), 'utf8')) as string[];
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- configuration files

interface Secrets {
  adminToken: string;
  tokens: Record<'kubelet' | 'proxy' | 'scheduler' | 'controllerManager', string>;
  apiToken: string;
  uploadSecret: string;
}

function kubeconfig(token: string, user: string, caFile: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'tj', cluster: { server: `https://${CLUSTER.nodeIp}:${CLUSTER.apiserverPort}`, 'certificate-authority': caFile } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'tj', context: { cluster: 'tj', user } }],
    'current-context': 'tj',
  });
}

export function containerdConfig(): string {
  return `version = 3
root = "${containerdRoot}"
state = "${S}/containerd/state"
imports = []
[grpc]
  address = "${containerdSock}"
[ttrpc]
  address = "${containerdSock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.nri.v1.nri"]
  disable = true
[plugins."io.containerd.internal.v1.opt"]
  path = "${S}/containerd/opt"
[plugins."io.containerd.cri.v1.runtime"]
  # This machine's root lacks CAP_SYS_RESOURCE: never raise a container's oom_score_adj.
  restrict_oom_score_adj = true
  # Pod network namespaces under the state directory, not the machine's /run/netns.
  netns_mounts_under_state_dir = true
  enable_cdi = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "${S}/cni/net.d"
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "${bin('runc')}"
        SystemdCgroup = false
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

function cniConfig(): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'tracejob',
    plugins: [
      {
        type: 'bridge',
        bridge: CLUSTER.bridge,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: CLUSTER.podCidr, gateway: CLUSTER.podGateway }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: join(S, 'cni', 'networks') },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  });
}

function kubeletConfig(healthzPort: number): string {
  return JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: CLUSTER.nodeIp,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort,
    // Reached only from this machine (the node IP is on a dummy interface).
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
    // The hybrid cgroup layout here: kubelet 1.35 refuses cgroup v1 unless told, and needs cgroupfs.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    containerRuntimeEndpoint: `unix://${containerdSock}`,
    clusterDNS: [CLUSTER.dnsIp],
    clusterDomain: 'cluster.local',
    resolvConf: join(S, 'resolv.conf'),
    podLogsDir: join(S, 'pod-logs'),
    failSwapOn: false,
    // A shared, busy disk must neither evict the test's pods nor garbage-collect its images.
    evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    nodeStatusUpdateFrequency: '4s',
    serializeImagePulls: false,
    maxPods: 60,
  });
}

function kubeProxyConfig(kubeconfigPath: string, healthzPort: number, metricsPort: number): string {
  return JSON.stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: kubeconfigPath },
    hostnameOverride: CLUSTER.nodeName,
    clusterCIDR: CLUSTER.podCidr,
    bindAddress: CLUSTER.nodeIp,
    healthzBindAddress: `127.0.0.1:${healthzPort}`,
    metricsBindAddress: `127.0.0.1:${metricsPort}`,
    // NodePorts on the node IP only: loopback NodePorts would need route_localnet machine-wide.
    nodePortAddresses: [`${CLUSTER.nodeIp}/32`],
    // Pods on one bridge reach each other's Services without br_netfilter (a machine-wide module).
    iptables: { masqueradeAll: true, syncPeriod: '10s', minSyncPeriod: '0s' },
    // Leave the machine's conntrack sysctls alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
  });
}

// ---------------------------------------------------------------- up

export function readClusterEnv(): ClusterEnv | undefined {
  if (!existsSync(stateEnvFile)) return undefined;
  const env: Record<string, string> = {};
  for (const line of readFileSync(stateEnvFile, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
  }
  if (!env.KUBECONFIG || !env.TRACEJOB_SERVER || !env.TRACEJOB_TOKEN) return undefined;
  return env as unknown as ClusterEnv;
}

const DAEMONS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'containerd', 'kubelet', 'kube-proxy', 'api-forward'] as const;

/** True when every daemon of a cluster:up is alive and its env file is there. */
export function clusterIsUp(): boolean {
  return DAEMONS.every((d) => daemonPid(d) !== undefined) && readClusterEnv() !== undefined;
}

// ---------------------------------------------------------------- sharing one cluster

/**
 * Runs `fn` holding the machine-wide cluster lock (a file naming the holder's pid; a dead holder's
 * lock is taken over). Another process bringing the cluster up or down is waited for, up to
 * `timeoutMs` (a cold cluster:up builds images for many minutes).
 */
export async function withClusterLock<T>(fn: () => Promise<T>, timeoutMs = 3_600_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      writeFileSync(LOCK_FILE, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(LOCK_FILE, 'utf8'));
    } catch {
      continue; // released meanwhile
    }
    if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
      rmSync(LOCK_FILE, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the cluster lock ${LOCK_FILE} is still held by pid ${holder} after ${timeoutMs / 1000} s`);
    if (!announced) log(`waiting for pid ${holder} (${LOCK_FILE}) to finish bringing the cluster up or down`);
    announced = true;
    await sleep(500);
  }
  try {
    return await fn();
  } finally {
    try {
      if (readFileSync(LOCK_FILE, 'utf8') === String(process.pid)) rmSync(LOCK_FILE, { force: true });
    } catch {
      /* already gone */
    }
  }
}

function liveUsers(): number[] {
  let names: string[];
  try {
    names = readdirSync(usersDir);
  } catch {
    return [];
  }
  return names.map(Number).filter((pid) => pid !== process.pid && Number.isInteger(pid) && alive(pid));
}

/** `npm run cluster:up`'s wish: leave this cluster up (also when a test brought it up). */
export function keepCluster(): void {
  writeFileSync(keepFile, '');
}

export interface ClusterLease {
  env: ClusterEnv;
  /** True when this process brought the cluster up (and so takes it down at release). */
  startedHere: boolean;
  /** Leaves the cluster: takes it down (once no other process uses it) when this process brought it up; returns what cluster:down left behind. */
  release(): Promise<string[]>;
}

/**
 * For a test or bench: the running cluster (another checkout's or a cluster:up's, left running
 * after) or one brought up now (taken down at release, after any other process using it is done).
 */
export async function useCluster(opts: { timings?: UpTimings } = {}): Promise<ClusterLease> {
  const { env, startedHere } = await withClusterLock(async () => {
    const startedHere = !clusterIsUp();
    let env: ClusterEnv;
    try {
      env = await clusterUp(opts);
    } catch (err) {
      // Half a cluster is no use to anybody: take down what this attempt started.
      const left = await clusterDown();
      throw new Error(`${(err as Error).message}${left.length > 0 ? `\n(and cluster:down left ${left.join(', ')})` : ''}`);
    }
    mkdirSync(usersDir, { recursive: true });
    writeFileSync(join(usersDir, String(process.pid)), '');
    return { env, startedHere };
  });
  return {
    env,
    startedHere,
    async release() {
      rmSync(join(usersDir, String(process.pid)), { force: true });
      if (!startedHere || existsSync(keepFile)) return [];
      const deadline = Date.now() + 1_200_000;
      for (let announced = false; liveUsers().length > 0; announced = true) {
        if (Date.now() > deadline) {
          log(`pids ${liveUsers().join(', ')} still use the cluster after 20 min: taking it down anyway`);
          break;
        }
        if (!announced) log(`waiting for pids ${liveUsers().join(', ')} to stop using the cluster before taking it down`);
        await sleep(1000);
      }
      return withClusterLock(() => clusterDown());
    },
  };
}

export interface UpTimings {
  [step: string]: number;
}

async function timed<T>(timings: UpTimings, step: string, fn: () => Promise<T> | T): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    timings[step] = (Date.now() - t0) / 1000;
    log(`${step}: ${timings[step]!.toFixed(1)} s`);
  }
}

/**
 * Brings the cluster up (or finds it up) and returns its env. Builds what is missing: images
 * (cached base images, buildah's layer cache for the Dockerfiles); the Go binaries must have been
 * built by scripts/build-test-binaries.sh.
 */
export async function clusterUp(opts: { timings?: UpTimings } = {}): Promise<ClusterEnv> {
  const timings = opts.timings ?? {};
  if (clusterIsUp()) {
    log('already up');
    return readClusterEnv()!;
  }
  const skip = clusterSkipReason();
  if (skip) throw new Error(skip);
  const left = leftovers();
  if (left.length > 0) {
    log(`a previous cluster left ${left.join(', ')}: tearing it down first`);
    const still = await clusterDown();
    if (still.length > 0) throw new Error(`cannot start: a previous cluster left ${still.join(', ')}`);
  }
  mkdirSync(runDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  try {
    await bringUp(timings);
  } catch (err) {
    log(`cluster:up failed; logs in ${logDir}`);
    throw err;
  }
  return readClusterEnv()!;
}

async function bringUp(timings: UpTimings): Promise<void> {
  const images = await timed(timings, 'images', () => {
    // The builds' progress goes to logs/images.log as it happens (a cold build takes many minutes).
    const fd = openSync(join(logDir, 'images.log'), 'w');
    let res: SpawnSyncReturns<string>;
    try {
      res = spawnSync('bash', [join(repoRoot, 'test/cluster/build-images.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', fd], timeout: 3_600_000 });
    } finally {
      closeSync(fd);
    }
    if (res.error || res.status !== 0) throw new Error(`test/cluster/build-images.sh failed (${res.error?.message ?? `exit ${res.status}`}); the end of logs/images.log:\n${logTail('images', 40)}`);
    return res.stdout.trim().split('\n').pop()!;
  });

  // Host state to restore at down.
  const saved: Record<string, string> = {};
  for (const k of SYSCTLS) saved[k] = readSysctl(k);
  writeFileSync(join(S, 'sysctls.json'), JSON.stringify(saved));
  writeFileSync(join(S, 'host-paths.json'), JSON.stringify(HOST_PATHS.filter((p) => existsSync(p))));
  // The nftables tables there are before the kubelet, kube-proxy and CNI add theirs (iptables-nft).
  writeFileSync(join(S, 'nft-tables.json'), JSON.stringify((nftTables() ?? []).map(tableName)));

  await timed(timings, 'network', () => {
    // A veth pair (this kernel has no dummy driver); the peer stays unconfigured.
    run('ip', ['link', 'add', CLUSTER.nodeIface, 'type', 'veth', 'peer', 'name', `${CLUSTER.nodeIface}p`]);
    run('ip', ['addr', 'add', `${CLUSTER.nodeIp}/32`, 'dev', CLUSTER.nodeIface]);
    run('ip', ['link', 'set', `${CLUSTER.nodeIface}p`, 'up']);
    run('ip', ['link', 'set', CLUSTER.nodeIface, 'up']);
    writeSysctl('net/ipv4/ip_forward', '1');
  });

  // Credentials: static tokens (one identity per component), ServiceAccount signing keys.
  const secrets: Secrets = {
    adminToken: randomBytes(24).toString('hex'),
    tokens: { kubelet: randomBytes(24).toString('hex'), proxy: randomBytes(24).toString('hex'), scheduler: randomBytes(24).toString('hex'), controllerManager: randomBytes(24).toString('hex') },
    apiToken: `tj_${randomBytes(32).toString('base64url')}`,
    uploadSecret: randomBytes(32).toString('base64'),
  };
  const pki = join(S, 'pki');
  mkdirSync(pki, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(pki, 'tokens.csv'),
    [
      `${secrets.adminToken},tracejob-cluster-admin,uid-admin,"system:masters"`,
      `${secrets.tokens.kubelet},system:node:${CLUSTER.nodeName},uid-kubelet,"system:nodes"`,
      `${secrets.tokens.proxy},system:kube-proxy,uid-proxy`,
      `${secrets.tokens.scheduler},system:kube-scheduler,uid-scheduler`,
      `${secrets.tokens.controllerManager},system:kube-controller-manager,uid-controller-manager`,
    ].join('\n') + '\n',
    { mode: 0o600 },
  );
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(pki, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(pki, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

  await timed(timings, 'control plane', async () => {
    const [etcdClient, etcdPeer] = [await freeLoopbackPort(), await freeLoopbackPort()];
    startDaemon('etcd', bin('etcd'), [
      '--name=tj',
      `--data-dir=${join(S, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=tj=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    startDaemon('kube-apiserver', bin('kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--bind-address=${CLUSTER.nodeIp}`,
      `--advertise-address=${CLUSTER.nodeIp}`,
      `--secure-port=${CLUSTER.apiserverPort}`,
      `--cert-dir=${pki}`,
      '--authorization-mode=Node,RBAC',
      `--token-auth-file=${join(pki, 'tokens.csv')}`,
      '--anonymous-auth=false',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      `--service-cluster-ip-range=${CLUSTER.serviceCidr}`,
      '--allow-privileged=true',
      '--kubelet-preferred-address-types=InternalIP',
      '--profiling=false',
      '--v=1',
    ]);
    await waitFor('kube-apiserver /readyz', 180_000, async () => {
      const res = await httpsGet(`https://${CLUSTER.nodeIp}:${CLUSTER.apiserverPort}/readyz`, secrets.adminToken);
      return res.status === 200 ? true : undefined;
    }, 'kube-apiserver');
  });

  const ca = join(pki, 'apiserver.crt');
  const kc = (name: string, token: string, user: string) => {
    const file = join(pki, `${name}.kubeconfig`);
    writeFileSync(file, kubeconfig(token, user, ca), { mode: 0o600 });
    return file;
  };
  writeFileSync(kubeconfigFile, kubeconfig(secrets.adminToken, 'tracejob-cluster-admin', ca), { mode: 0o600 });

  await timed(timings, 'controllers', async () => {
    startDaemon('kube-controller-manager', bin('kube-controller-manager'), [
      `--kubeconfig=${kc('controller-manager', secrets.tokens.controllerManager, 'system:kube-controller-manager')}`,
      `--authentication-kubeconfig=${join(pki, 'controller-manager.kubeconfig')}`,
      `--authorization-kubeconfig=${join(pki, 'controller-manager.kubeconfig')}`,
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${join(pki, 'sa.key')}`,
      `--root-ca-file=${ca}`,
      `--service-cluster-ip-range=${CLUSTER.serviceCidr}`,
      '--leader-elect=false',
      // A node without a heartbeat for 20 s is NotReady (default 40 s): the e2e's killed kubelet
      // ends its trace sooner. Twice the kubelet's lease renewal interval (10 s), so load alone
      // does not flap it.
      '--node-monitor-grace-period=20s',
      '--bind-address=127.0.0.1',
      `--secure-port=${await freeLoopbackPort()}`,
      '--v=1',
    ]);
    startDaemon('kube-scheduler', bin('kube-scheduler'), [
      `--kubeconfig=${kc('scheduler', secrets.tokens.scheduler, 'system:kube-scheduler')}`,
      `--authentication-kubeconfig=${join(pki, 'scheduler.kubeconfig')}`,
      `--authorization-kubeconfig=${join(pki, 'scheduler.kubeconfig')}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${await freeLoopbackPort()}`,
      '--v=1',
    ]);
    // The controller-manager's token controller fills in the default ServiceAccounts.
    await waitFor('default ServiceAccount', 120_000, () => (kubectl(['-n', 'default', 'get', 'serviceaccount', 'default'], { allowFail: true }).status === 0 ? true : undefined), 'kube-controller-manager');
  });

  await timed(timings, 'containerd', async () => {
    mkdirSync(join(S, 'containerd'), { recursive: true });
    mkdirSync(join(S, 'cni', 'net.d'), { recursive: true });
    writeFileSync(join(S, 'cni', 'net.d', '10-tracejob.conflist'), cniConfig());
    writeFileSync(join(S, 'containerd', 'config.toml'), containerdConfig());
    if (existsSync(containerdRoot) && !existsSync(containerdRootClean)) {
      log(`${containerdRoot} was not left clean by a cluster:down: starting containerd with an empty root`);
      for (const m of mountsUnder(containerdRoot)) run('umount', ['-l', m], { allowFail: true });
      rmSync(containerdRoot, { recursive: true, force: true });
    }
    rmSync(containerdRootClean, { force: true });
    startDaemon('containerd', bin('containerd'), ['--config', join(S, 'containerd', 'config.toml')], { ...process.env, PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}` });
    await waitFor('containerd', 60_000, () => (ctr(['version'], { allowFail: true }).status === 0 ? true : undefined), 'containerd');
  });

  await timed(timings, 'image import', () => {
    // Only what changed since the image was last imported into the kept root (the archive's image id).
    let imported: Record<string, string> = {};
    try {
      imported = JSON.parse(readFileSync(importedImagesFile, 'utf8')) as Record<string, string>;
    } catch {
      /* nothing imported yet */
    }
    const present = new Set(ctr(['images', 'ls', '-q']).stdout.split('\n'));
    for (const name of NODE_IMAGES) {
      const archive = join(images, `${name.replace(/[/:]/g, '_')}.tar`);
      const id = readFileSync(`${archive}.id`, 'utf8').trim();
      if (imported[name] === id && present.has(name)) continue;
      ctr(['images', 'import', archive]);
      imported[name] = id;
      writeFileSync(importedImagesFile, JSON.stringify(imported));
    }
  });

  await timed(timings, 'kubelet', async () => {
    writeFileSync(join(S, 'resolv.conf'), 'nameserver 127.0.0.53\noptions ndots:1\n');
    const config = join(S, 'kubelet-config.json');
    writeFileSync(config, kubeletConfig(await freeLoopbackPort()));
    startDaemon('kubelet', bin('kubelet'), [
      `--config=${config}`,
      `--kubeconfig=${kc('kubelet', secrets.tokens.kubelet, `system:node:${CLUSTER.nodeName}`)}`,
      `--root-dir=${join(S, 'kubelet')}`,
      `--cert-dir=${join(S, 'kubelet', 'pki')}`,
      `--node-ip=${CLUSTER.nodeIp}`,
      `--hostname-override=${CLUSTER.nodeName}`,
      '--v=1',
    ]);
    await waitFor('node Ready', 180_000, () => (nodeReady() ? true : undefined), 'kubelet');
    restoreKubeletSysctls();
  });

  await timed(timings, 'kube-proxy', async () => {
    const [healthz, metrics] = [await freeLoopbackPort(), await freeLoopbackPort()];
    const config = join(S, 'kube-proxy-config.json');
    writeFileSync(config, kubeProxyConfig(kc('kube-proxy', secrets.tokens.proxy, 'system:kube-proxy'), healthz, metrics));
    startDaemon('kube-proxy', bin('kube-proxy'), [`--config=${config}`, '--v=1']);
    await waitFor('kube-proxy /healthz', 60_000, async () => {
      const res = await fetch(`http://127.0.0.1:${healthz}/healthz`);
      return res.ok ? true : undefined;
    }, 'kube-proxy');
  });

  await timed(timings, 'coredns', () => {
    kubectl(['apply', '-f', join(repoRoot, 'test/cluster/addons/coredns.yaml')]);
    rollout('kube-system', 'deploy/coredns', 180);
  });

  await timed(timings, 'deploy tracejob', () => {
    const volume = join(S, 'volumes', 'redis-data');
    mkdirSync(volume, { recursive: true });
    chownSync(volume, 999, 999);
    kubectl(['apply', '-f', join(repoRoot, 'manifests/namespaces.yaml')]);
    const authDoc = `tokens:\n  - name: e2e\n    sha256: ${createHash('sha256').update(secrets.apiToken).digest('hex')}\n    namespaces: ['*']\n    gadgets: ['*']\n`;
    const secretYaml = (name: string, key: string, value: string) =>
      JSON.stringify({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name, namespace: 'tracejob' }, stringData: { [key]: value } });
    kubectl(['apply', '-f', '-'], { input: secretYaml('tracejob-upload-token', 'secret', secrets.uploadSecret) });
    kubectl(['apply', '-f', '-'], { input: secretYaml('tracejob-api-auth', 'tokens.yaml', authDoc) });
    kubectl(['apply', '-k', join(repoRoot, 'test/cluster/overlay')]);
    for (const what of ['statefulset/redis', 'deploy/tracejob-api', 'deploy/tracejob-scheduler']) {
      rollout('tracejob', what, 300);
    }
  });

  await timed(timings, 'api forward', async () => {
    const clusterIp = kubectl(['-n', 'tracejob', 'get', 'svc', 'tracejob-api', '-o', 'jsonpath={.spec.clusterIP}']).stdout.trim();
    const port = await freeLoopbackPort();
    startDaemon('api-forward', process.execPath, ['--import', 'tsx', join(repoRoot, 'test/cluster/loopback-forward.ts'), String(port), `${clusterIp}:8080`], { ...process.env, NODE_OPTIONS: '' });
    const server = `http://127.0.0.1:${port}`;
    await waitFor('the deployed API through the Service', 60_000, async () => ((await fetch(`${server}/readyz`)).ok ? true : undefined), 'api-forward');
    mkdirSync(artifactsDir, { recursive: true });
    const envText = `KUBECONFIG=${kubeconfigFile}\nTRACEJOB_SERVER=${server}\nTRACEJOB_TOKEN=${secrets.apiToken}\n`;
    writeFileSync(stateEnvFile, envText, { mode: 0o600 });
    writeFileSync(envFile, envText, { mode: 0o600 });
  });
}

/**
 * Waits for a workload's rollout (its pods Ready); on a timeout the error names it and carries its
 * pods' state, the namespace's last events and the end of its containers' logs.
 */
function rollout(ns: string, what: string, timeoutSeconds: number): void {
  const res = kubectl(['-n', ns, 'rollout', 'status', what, `--timeout=${timeoutSeconds}s`], { allowFail: true });
  if (res.status === 0) return;
  const pods = kubectl(['-n', ns, 'get', 'pods', '-o', 'wide'], { allowFail: true }).stdout;
  const events = kubectl(['-n', ns, 'get', 'events', '--sort-by=.lastTimestamp'], { allowFail: true }).stdout.split('\n').slice(-15).join('\n');
  const logs = kubectl(['-n', ns, 'logs', what, '--all-containers', '--tail=20'], { allowFail: true });
  throw new Error(
    `${ns}/${what} did not become ready within ${timeoutSeconds} s: ${(res.stderr || res.stdout).trim()}\n` +
      `pods:\n${pods}\nevents:\n${events}\nlogs:\n${(logs.stdout || logs.stderr).trim()}\n(kubelet, containerd logs in ${logDir})`,
  );
}

// ---------------------------------------------------------------- down

/** Stops everything clusterUp started and removes what it created; returns what was left behind. */
export async function clusterDown(): Promise<string[]> {
  const t0 = Date.now();
  if (existsSync(kubeconfigFile) && daemonPid('kube-apiserver') && daemonPid('kubelet')) {
    // Pods go away through the kubelet, so that CNI DEL and volume unmounts run.
    await stopDaemon('kube-controller-manager');
    await stopDaemon('kube-scheduler');
    kubectl(['delete', 'pods', '--all', '--all-namespaces', '--grace-period=1', '--wait=false'], { allowFail: true });
    try {
      await waitFor('no pods left', 90_000, () => {
        const res = kubectl(['get', 'pods', '--all-namespaces', '-o', 'name'], { allowFail: true });
        return res.status === 0 && res.stdout.trim() === '' ? true : undefined;
      });
      await waitFor('no pod sandboxes running', 60_000, () => {
        const res = ctr(['tasks', 'ls', '-q'], { allowFail: true });
        return res.status === 0 && res.stdout.trim() === '' ? true : undefined;
      });
    } catch (err) {
      log(`pods did not all go away (${(err as Error).message.split('\n')[0]}); killing what is left`);
    }
    log(`down: pods gone after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  await stopDaemon('api-forward');
  await stopDaemon('kubelet');
  await stopDaemon('kube-proxy');
  // The containers the kubelet has not garbage-collected yet: out of the kept root.
  let rootClean = false;
  if (daemonPid('containerd')) {
    const ids = () => ctr(['containers', 'ls', '-q'], { allowFail: true });
    for (const id of ids().stdout.split('\n').filter(Boolean)) {
      ctr(['tasks', 'kill', '-s', 'SIGKILL', id], { allowFail: true });
      ctr(['tasks', 'rm', '-f', id], { allowFail: true });
      ctr(['containers', 'rm', id], { allowFail: true });
    }
    const left = ids();
    rootClean = left.status === 0 && left.stdout.trim() === '';
  }
  // Shims of containers still there: ours are the ones talking to our containerd's socket.
  for (const pid of processesMentioning(containerdSock)) await stopPid(pid, 2000);
  await stopDaemon('containerd');
  if (rootClean && existsSync(containerdRoot)) writeFileSync(containerdRootClean, '');
  await stopDaemon('kube-controller-manager');
  await stopDaemon('kube-scheduler');
  await stopDaemon('kube-apiserver');
  await stopDaemon('etcd');
  if (existsSync(bin('kube-proxy'))) run(bin('kube-proxy'), ['--cleanup'], { allowFail: true });
  removeChains();
  const nftBaseline = readNftBaseline();
  removeNftTables(nftBaseline);

  for (const m of [...mountsUnder(S), ...mountsUnder(containerdRoot)]) run('umount', ['-l', m], { allowFail: true });
  for (const dir of kubepodsCgroups()) {
    try {
      rmdirSync(dir);
    } catch {
      /* reported below */
    }
  }
  for (const link of [CLUSTER.bridge, CLUSTER.nodeIface]) if (linkExists(link)) run('ip', ['link', 'del', link], { allowFail: true });
  try {
    const saved = JSON.parse(readFileSync(join(S, 'sysctls.json'), 'utf8')) as Record<string, string>;
    for (const [k, v] of Object.entries(saved)) writeSysctl(k, v);
  } catch {
    /* nothing was changed */
  }
  const hostPathsBefore = readHostPathsBefore();
  for (const link of ourContainerLogLinks()) rmSync(link, { force: true });
  for (const p of createdHostPaths(hostPathsBefore)) rmSync(p, { recursive: true, force: true });
  rmSync('/run/tracejob-buildah', { recursive: true, force: true });
  if (mountsUnder(S).length === 0) rmSync(S, { recursive: true, force: true });
  rmSync(envFile, { force: true });
  log(`down: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return leftovers(nftBaseline, hostPathsBefore);
}

/**
 * Directories outside the state directory that the kubelet, containerd and the CNI plugins make at
 * fixed places (the kubelet's device-plugin socket, the shims' sockets and runc's state, the CNI
 * result cache, the container log links). cluster:down removes those that did not exist before
 * cluster:up: on a machine that runs its own containerd or kubelet they are theirs.
 */
const HOST_PATHS = ['/var/lib/kubelet', '/run/containerd', '/var/lib/cni', '/var/log/containers', '/var/log/pods'] as const;

/** The kubelet's links in /var/log/containers to our pods' logs (where that directory was there before). */
function ourContainerLogLinks(): string[] {
  let names: string[];
  try {
    names = readdirSync('/var/log/containers');
  } catch {
    return [];
  }
  return names.map((n) => join('/var/log/containers', n)).filter((link) => {
    try {
      return readlinkSync(link).startsWith(`${S}/`);
    } catch {
      return false;
    }
  });
}

function readHostPathsBefore(): string[] | undefined {
  try {
    return JSON.parse(readFileSync(join(S, 'host-paths.json'), 'utf8')) as string[];
  } catch {
    return undefined;
  }
}

function createdHostPaths(before: readonly string[] | undefined): string[] {
  if (!before) return [];
  return HOST_PATHS.filter((p) => !before.includes(p) && existsSync(p));
}

function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) out.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return out.filter((p) => p !== process.pid);
}

/**
 * What of a cluster is still on the machine (empty after a clean cluster:down): processes, mounts,
 * interfaces, cgroups, iptables chains, nftables tables (`nftBaseline`: the tables there were
 * before cluster:up; by default as recorded in the state directory), files.
 */
export function leftovers(nftBaseline: readonly string[] | undefined = readNftBaseline(), hostPathsBefore: readonly string[] | undefined = readHostPathsBefore()): string[] {
  const out: string[] = [];
  for (const d of DAEMONS) if (daemonPid(d)) out.push(`process ${d}`);
  for (const pid of processesMentioning(containerdSock)) out.push(`process ${pid} (a containerd shim)`);
  for (const m of [...mountsUnder(S), ...mountsUnder(containerdRoot)]) out.push(`mount ${m}`);
  for (const link of [CLUSTER.bridge, CLUSTER.nodeIface]) if (linkExists(link)) out.push(`interface ${link}`);
  for (const dir of kubepodsCgroups()) out.push(`cgroup ${dir}`);
  for (const c of ourChains()) out.push(`${c.cmd} ${c.table} ${c.chain}`);
  for (const t of ourNftTables(nftBaseline)) out.push(`nft table ${tableName(t)}`);
  if (existsSync(S)) out.push(`directory ${S}`);
  for (const p of createdHostPaths(hostPathsBefore)) out.push(`directory ${p}`);
  for (const link of ourContainerLogLinks()) out.push(`file ${link}`);
  if (existsSync('/run/tracejob-buildah')) out.push('directory /run/tracejob-buildah');
  if (existsSync(join('/run/netns')) && readdirSync('/run/netns').some((n) => n.startsWith('cni-'))) out.push('network namespaces /run/netns/cni-*');
  return out;
}

/** An image's size in containerd's content store (compressed layers + config), bytes. */
export function imageSize(name: string): number | undefined {
  const res = ctr(['images', 'ls'], { allowFail: true });
  for (const line of res.stdout.split('\n')) {
    const cols = line.split(/\s+/);
    if (cols[0] === name) {
      const m = /^([\d.]+)(KiB|MiB|GiB|B)$/.exec(`${cols[3]}${cols[4]}`);
      if (!m) return undefined;
      const mult = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[m[2] as 'B'];
      return Math.round(Number(m[1]) * mult);
    }
  }
  return undefined;
}

export function statSafe(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}
