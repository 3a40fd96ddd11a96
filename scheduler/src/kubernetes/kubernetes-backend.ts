/**
 * The kubernetes backend: one ephemeral runner pod per (trace, node) in the runner namespace.
 *
 * run(): create the trace's Secret (409 → replace it with the current specs), then one pod per
 * node (409 → adopt the pod that is there: a restarted scheduler never starts a second runner),
 * within the per-node and total limits on concurrent runner pods. A PodWatch on the trace's label
 * follows the pods; each pod's status maps to its node's state. A pod still Pending past the start
 * timeout fails its node with the reason (unschedulable, image pull error, no kubelet) while the
 * other nodes go on. Cancel deletes the pods (the runner gets SIGTERM and uploads what it saw).
 * Ended pods are deleted as soon as they end, the Secret once every node has ended.
 * A node that dies mid-trace (its Node NotReady past the grace period, or deleted — one shared
 * NodeHealthWatch per backend — or the pod given up by the control plane with its node) ends that
 * node's part as failed with a reason naming the node: its pod is deleted with grace 0 (no kubelet
 * is left to confirm a graceful delete) and its spec and upload token leave the Secret; the other
 * nodes go on, so the trace ends `partial` if one of them succeeded, `failed` if none did.
 * close() stops watching but leaves the pods running, for the next scheduler to adopt.
 */
import { CoreV1Api, type KubeConfig, type V1Pod } from './kubernetes-client.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { isKubernetesTarget, RUNNER_EXIT, runnerBudgetSeconds, type NodeJobSpec, type TraceTarget } from '../../../contracts/index.ts';
import type { NodeOutcome, NodePlan, RunContext, RunnerBackend } from '../backend.ts';
import { apiErrorCode, apiErrorMessage } from './api-error.ts';
import { NodeHealthWatch, type NodeLoss } from './node-health-watch.ts';
import { PodWatch, type PodEventType, type PodWatchStats } from './pod-watch.ts';
import { InvalidTargetError, resolveKubernetesTargets } from './resolve-targets.ts';
import { runnerPodState } from './runner-pod-state.ts';
import { buildRunnerPod, buildRunnerSecrets, NODE_ANNOTATION, runnerSelector, specKey, type RunnerPodConfig } from './runner-pod.ts';
import { RunnerSlots, type RunnerSlotLimits } from './runner-slots.ts';

export interface KubernetesBackendOptions {
  kubeConfig: KubeConfig;
  pod: RunnerPodConfig;
  /** A node whose runner pod has not started this long after creation fails (the others go on). */
  startTimeoutSeconds: number;
  limits: RunnerSlotLimits;
  /** Server-side timeout of each watch request (the watch reconnects after it). */
  watchTimeoutSeconds?: number;
  /** Pod create requests in flight at once (large fan-outs do not flood the apiserver). Default 32. */
  maxConcurrentCreates?: number;
  /**
   * Seconds a node hosting a runner may stay NotReady before its part of the trace is given up
   * (a node Ready again before that goes on). Default 0: the Ready condition turns Unknown only
   * after the controller's node-monitor-grace-period without a heartbeat, which is wait enough.
   */
  nodeLostGraceSeconds?: number;
  logger?: Logger;
}

const TRANSIENT_CODES = new Set([429, 500, 502, 503, 504]);

/** Retries a Kubernetes call on throttling, apiserver hiccups and network errors. */
async function withRetries<T>(call: () => Promise<T>, attempts = 5): Promise<T> {
  let delay = 100;
  for (let i = 1; ; i += 1) {
    try {
      return await call();
    } catch (err) {
      const code = apiErrorCode(err);
      const transient = code === undefined ? !(err instanceof TypeError && /invalid/i.test(err.message)) : TRANSIENT_CODES.has(code);
      if (!transient || i >= attempts) throw err;
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }
}

/** Words for the runner's exit codes. */
function exitReason(code: number | undefined, fallback: string): string {
  switch (code) {
    case RUNNER_EXIT.noTargets:
      return 'none of the targets was found on this node';
    case RUNNER_EXIT.uploadFailed:
      return 'the runner could not upload its result';
    case RUNNER_EXIT.usage:
      return 'the runner refused its job spec';
    default:
      return fallback;
  }
}

interface NodeRun {
  job: NodeJobSpec;
  pod: V1Pod;
  podName: string;
  /** Created (or adopted) and not yet ended. */
  created: boolean;
  /** Seen running (onNodeRunning reported). */
  started: boolean;
  lastPendingReason?: string;
  release?: () => void;
  startTimer?: NodeJS.Timeout;
  outcome?: NodeOutcome;
}

interface TraceRun {
  traceId: string;
  nodes: Map<string, NodeRun>;
  byPod: Map<string, NodeRun>;
  secretNames: string[];
  /** The Secret holding each node's spec. */
  secretOf: Map<string, string>;
  /** Deletions started for lost nodes, awaited before the run returns. */
  cleanups: Promise<void>[];
  ctx: RunContext;
  cancelled: boolean;
  watch?: PodWatch;
  finish: () => void;
  fail: (err: unknown) => void;
  /** Aborted when the run ends or the backend closes: stops waiting for slots. */
  stop: AbortController;
}

export class KubernetesBackend implements RunnerBackend {
  readonly kind = 'kubernetes' as const;
  readonly core: CoreV1Api;
  private readonly slots: RunnerSlots;
  /** Bounds the create requests in flight (one shared key: a plain counting gate). */
  private readonly createGate: RunnerSlots;
  private readonly runs = new Map<string, TraceRun>();
  /** Kernel version by node (status.nodeInfo), for the runner's capabilities; a reboot is rare. */
  private readonly nodeKernels = new Map<string, string>();
  /** The Nodes hosting runner pods, watched once for every trace of this scheduler. */
  private readonly nodeHealth: NodeHealthWatch;
  private closed = false;

  constructor(private readonly opts: KubernetesBackendOptions) {
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.slots = new RunnerSlots(opts.limits);
    const inFlight = opts.maxConcurrentCreates ?? 32;
    this.createGate = new RunnerSlots({ perNode: inFlight, total: inFlight });
    this.nodeHealth = new NodeHealthWatch({ kubeConfig: opts.kubeConfig, graceSeconds: opts.nodeLostGraceSeconds ?? 0, logger: opts.logger?.child({ component: 'node-health' }) });
  }

  /** Runner pods this scheduler counts against its limits right now. */
  get activeRunnerPods(): number {
    return this.slots.active;
  }

  /** Watch statistics of a running trace (reconnects, 410s), for tests and metrics. */
  watchStats(traceId: string): PodWatchStats | undefined {
    return this.runs.get(traceId)?.watch?.stats;
  }

  async resolveTargets(target: TraceTarget): Promise<NodePlan[]> {
    if (!isKubernetesTarget(target)) {
      throw new InvalidTargetError('target.namespace', 'the kubernetes backend needs target.namespace (containerIds, pids and cgroupPaths are for the local backend)');
    }
    return resolveKubernetesTargets(this.core, target);
  }

  async run(jobs: NodeJobSpec[], ctx: RunContext): Promise<NodeOutcome[]> {
    if (this.closed) throw new Error('kubernetes backend is closed');
    const first = jobs[0];
    if (!first) return [];
    const traceId = first.traceId;
    if (this.runs.has(traceId)) throw new Error(`trace ${traceId} is already running in this scheduler`);
    const log = this.opts.logger?.child({ traceId });
    const ns = this.opts.pod.namespace;

    const { secrets, secretOf } = buildRunnerSecrets(jobs, ns);
    for (const secret of secrets) {
      try {
        await withRetries(() => this.core.createNamespacedSecret({ namespace: ns, body: secret }));
      } catch (err) {
        if (apiErrorCode(err) !== 409) throw new Error(`cannot create the runner Secret in namespace ${ns}: ${apiErrorMessage(err)}`);
        // A previous scheduler created it: bring its specs (and upload tokens) up to date.
        await withRetries(() => this.core.replaceNamespacedSecret({ name: secret.metadata!.name!, namespace: ns, body: secret }));
      }
    }

    let finish!: () => void;
    let fail!: (err: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    const run: TraceRun = { traceId, nodes: new Map(), byPod: new Map(), secretNames: secrets.map((s) => s.metadata!.name!), secretOf, cleanups: [], ctx, cancelled: false, finish, fail, stop: new AbortController() };
    await this.learnNodeKernels(jobs.map((j) => j.node), log);
    for (const job of jobs) {
      const pod = buildRunnerPod(job, this.opts.pod, secretOf.get(job.node), this.nodeKernels.get(job.node));
      const nodeRun: NodeRun = { job, pod, podName: pod.metadata!.name!, created: false, started: false };
      run.nodes.set(job.node, nodeRun);
      run.byPod.set(nodeRun.podName, nodeRun);
    }
    this.runs.set(traceId, run);

    const onAbort = () => this.cancel(run, log);
    let unfollowNodes: (() => void) | undefined;
    try {
      run.watch = new PodWatch({
        kubeConfig: this.opts.kubeConfig,
        namespace: ns,
        labelSelector: runnerSelector(traceId),
        timeoutSeconds: this.opts.watchTimeoutSeconds ?? 25,
        onPod: (type, pod) => this.onPod(run, type, pod, log),
        onRecoverableError: (err) => log?.warn({ err: apiErrorMessage(err) }, 'runner pod watch interrupted; resuming'),
      });
      await run.watch.start();
      unfollowNodes = await this.nodeHealth.follow([...run.nodes.keys()], (loss) => this.onNodeLost(run, loss, log));
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener('abort', onAbort, { once: true });
      for (const nodeRun of run.nodes.values()) {
        this.launch(run, nodeRun, log).catch((err: unknown) => {
          this.settle(run, nodeRun, { node: nodeRun.job.node, status: 'failed', error: `cannot start the runner pod: ${(err as Error).message}` });
        });
      }
      this.checkDone(run);
      // Last resort if no final status ever arrives (watch broken for good, kubelet gone).
      const longestSeconds = Math.max(...jobs.map((j) => runnerBudgetSeconds(j))) + this.opts.pod.graceSeconds + this.opts.startTimeoutSeconds + this.opts.pod.terminationGraceSeconds + 60;
      const lastResort = setTimeout(() => {
        for (const n of run.nodes.values()) {
          if (!n.outcome && n.created) this.settle(run, n, { node: n.job.node, status: 'failed', error: `no final status from runner pod ${n.podName} after ${longestSeconds}s` });
        }
      }, longestSeconds * 1000);
      lastResort.unref();
      try {
        await done;
      } finally {
        clearTimeout(lastResort);
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      unfollowNodes?.();
      run.stop.abort();
      await run.watch?.stop();
      await Promise.all(run.cleanups);
      this.runs.delete(traceId);
      for (const n of run.nodes.values()) {
        if (n.startTimer) clearTimeout(n.startTimer);
        n.release?.();
      }
    }
    if (!this.closed) await this.cleanUp(run, log);
    return jobs.map((job) => run.nodes.get(job.node)!.outcome!);
  }

  /**
   * With `sysResource: auto`, the runner gets CAP_SYS_RESOURCE only on kernels older than 5.11:
   * one list of the Nodes when a node is new to this scheduler. Without permission to list Nodes
   * the kernel stays unknown and the capability is not added (configure `always` for old kernels).
   */
  private async learnNodeKernels(nodes: string[], log: Logger | undefined): Promise<void> {
    if (this.opts.pod.sysResource !== 'auto' || nodes.every((n) => this.nodeKernels.has(n))) return;
    try {
      const list = await withRetries(() => this.core.listNode({}));
      for (const node of list.items) {
        const name = node.metadata?.name;
        const kernel = node.status?.nodeInfo?.kernelVersion;
        if (name && kernel) this.nodeKernels.set(name, kernel);
      }
    } catch (err) {
      log?.warn({ err: apiErrorMessage(err) }, 'cannot list Nodes: runner pods get no CAP_SYS_RESOURCE (set RUNNER_SYS_RESOURCE=always for kernels before 5.11)');
    }
  }

  /** Takes a slot, then creates (or adopts) the node's pod. */
  private async launch(run: TraceRun, n: NodeRun, log: Logger | undefined): Promise<void> {
    try {
      n.release = await this.slots.acquire(n.job.node, run.stop.signal);
    } catch {
      return; // the run ended (cancelled, closed) before a slot was free
    }
    if (n.outcome) {
      n.release();
      return;
    }
    if (run.cancelled) {
      this.settle(run, n, { node: n.job.node, status: 'cancelled' });
      return;
    }
    const createDone = await this.createGate.acquire('create');
    try {
      await withRetries(() => this.core.createNamespacedPod({ namespace: this.opts.pod.namespace, body: n.pod }));
      createDone();
      log?.info({ node: n.job.node, pod: n.podName }, 'runner pod created');
    } catch (err) {
      createDone();
      if (apiErrorCode(err) !== 409) {
        const outcome: NodeOutcome = run.cancelled ? { node: n.job.node, status: 'cancelled' } : { node: n.job.node, status: 'failed', error: `cannot create runner pod ${n.podName}: ${apiErrorMessage(err)}` };
        this.settle(run, n, outcome);
        return;
      }
      log?.info({ node: n.job.node, pod: n.podName }, 'runner pod exists: adopted');
      // The watch delivers its state; if it already ended and was deleted, the list did not show it.
      try {
        const existing = await withRetries(() => this.core.readNamespacedPod({ name: n.podName, namespace: this.opts.pod.namespace }));
        this.onPod(run, 'MODIFIED', existing, log);
      } catch (readErr) {
        if (apiErrorCode(readErr) !== 404) log?.warn({ err: apiErrorMessage(readErr) }, 'cannot read adopted runner pod');
      }
    }
    n.created = true;
    if (n.outcome) {
      // Given up (its node lost) while the create was in flight: the pod must not stay behind.
      await this.deletePod(n, log, 0);
      return;
    }
    if (run.cancelled) {
      this.cancelNode(run, n, log);
      return;
    }
    if (!n.started) {
      n.startTimer = setTimeout(() => this.onStartTimeout(run, n, log), this.opts.startTimeoutSeconds * 1000);
      n.startTimer.unref();
    }
  }

  private onStartTimeout(run: TraceRun, n: NodeRun, log: Logger | undefined): void {
    if (n.outcome || n.started) return;
    const pod = run.watch?.pods().get(n.podName);
    const state = pod ? runnerPodState(pod) : undefined;
    if (state && state.kind !== 'pending') return;
    const reason = state?.reason ?? n.lastPendingReason ?? 'no kubelet reported on the pod (is the node down or gone?)';
    const error = `runner pod ${n.podName} still Pending after ${this.opts.startTimeoutSeconds}s on node ${n.job.node}: ${reason}`;
    log?.warn({ node: n.job.node, pod: n.podName, reason }, 'runner pod did not start in time');
    this.settle(run, n, { node: n.job.node, status: 'failed', error });
    void this.deletePod(n, log, 0);
  }

  private onPod(run: TraceRun, type: PodEventType, pod: V1Pod, log: Logger | undefined): void {
    const name = pod.metadata?.name;
    const n = name ? run.byPod.get(name) : undefined;
    if (!n || pod.metadata?.annotations?.[NODE_ANNOTATION] !== n.job.node || n.outcome) return;
    const node = n.job.node;
    const state = runnerPodState(pod);
    if (state.kind === 'lost') {
      this.loseNode(run, n, `runner pod ${n.podName} was given up with its node ${node} (${state.reason}); its results are lost`, log);
      return;
    }
    if (state.kind === 'running' || state.kind === 'succeeded' || state.kind === 'failed') {
      if (!n.started) {
        n.started = true;
        if (n.startTimer) clearTimeout(n.startTimer);
        try {
          run.ctx.onNodeRunning(node);
        } catch (err) {
          log?.warn({ err }, 'onNodeRunning failed');
        }
      }
    }
    if (state.kind === 'succeeded') {
      this.settle(run, n, run.cancelled ? { node, status: 'cancelled', exitCode: state.exitCode } : { node, status: 'succeeded', exitCode: state.exitCode });
      void this.deletePod(n, log, 0);
    } else if (state.kind === 'failed') {
      const words = exitReason(state.exitCode, '');
      const outcome: NodeOutcome = run.cancelled ? { node, status: 'cancelled' } : { node, status: 'failed', error: words ? `${words} (${state.reason})` : state.reason };
      if (state.exitCode !== undefined) outcome.exitCode = state.exitCode;
      this.settle(run, n, outcome);
      void this.deletePod(n, log, 0);
    } else if (type === 'DELETED') {
      this.settle(run, n, run.cancelled ? { node, status: 'cancelled' } : { node, status: 'failed', error: `runner pod ${n.podName} was deleted before it finished` });
    } else if (state.kind === 'pending') {
      if (state.reason) n.lastPendingReason = state.reason;
      if (state.permanent) {
        this.settle(run, n, { node, status: 'failed', error: `runner pod ${n.podName} cannot start on node ${node}: ${state.reason}` });
        void this.deletePod(n, log, 0);
      }
    }
  }

  private onNodeLost(run: TraceRun, loss: NodeLoss, log: Logger | undefined): void {
    const n = run.nodes.get(loss.node);
    if (!n || n.outcome) return;
    const when = n.started ? 'during the trace' : 'before its runner started';
    const error = loss.what === 'does not exist'
      ? `node ${loss.node} does not exist (no Node object): no runner can run there`
      : `node ${loss.node} ${loss.what} ${when}${loss.detail ? ` (${loss.detail})` : ''}; its results are lost`;
    this.loseNode(run, n, error, log);
  }

  /**
   * Ends a node whose runner is gone with its node: failed with `error`, the pod deleted with grace
   * 0 (a graceful delete waits for a kubelet that is not there), its spec out of the Secret.
   * A cancelled trace keeps `cancelled` (the node's loss is in the error).
   */
  private loseNode(run: TraceRun, n: NodeRun, error: string, log: Logger | undefined): void {
    if (n.outcome) return;
    log?.warn({ node: n.job.node, pod: n.podName, reason: error }, 'runner lost with its node');
    this.settle(run, n, run.cancelled ? { node: n.job.node, status: 'cancelled' } : { node: n.job.node, status: 'failed', error, lost: true });
    if (n.created) run.cleanups.push(this.deletePod(n, log, 0));
    run.cleanups.push(this.dropEndedSpecs(run, n.job.node, log));
  }

  /**
   * Takes the specs (upload tokens) of ended nodes out of the Secret holding `node`'s, or deletes
   * that Secret when no node still running needs it. Runner pods mount only their own key.
   */
  private async dropEndedSpecs(run: TraceRun, node: string, log: Logger | undefined): Promise<void> {
    const name = run.secretOf.get(node);
    if (!name) return;
    const ns = this.opts.pod.namespace;
    const ended = new Set([...run.nodes.values()].filter((m) => m.outcome).map((m) => specKey(m.job.node)));
    try {
      for (let attempt = 0; ; attempt += 1) {
        const secret = await withRetries(() => this.core.readNamespacedSecret({ name, namespace: ns }));
        const keys = Object.keys(secret.data ?? {});
        if (keys.every((k) => ended.has(k))) {
          await withRetries(() => this.core.deleteNamespacedSecret({ name, namespace: ns }));
          return;
        }
        if (!keys.some((k) => ended.has(k))) return;
        for (const k of ended) delete secret.data![k];
        try {
          await withRetries(() => this.core.replaceNamespacedSecret({ name, namespace: ns, body: secret }));
          return;
        } catch (err) {
          if (apiErrorCode(err) !== 409 || attempt >= 5) throw err;
        }
      }
    } catch (err) {
      if (apiErrorCode(err) !== 404) log?.warn({ secret: name, err: apiErrorMessage(err) }, 'cannot take a lost node\'s spec out of the runner Secret; it goes with the Secret when the trace ends');
    }
  }

  private settle(run: TraceRun, n: NodeRun, outcome: NodeOutcome): void {
    if (n.outcome) return;
    n.outcome = outcome;
    if (n.startTimer) clearTimeout(n.startTimer);
    n.release?.();
    this.opts.logger?.child({ traceId: run.traceId }).info({ node: outcome.node, status: outcome.status, exitCode: outcome.exitCode, error: outcome.error }, 'runner ended');
    this.checkDone(run);
  }

  private checkDone(run: TraceRun): void {
    for (const n of run.nodes.values()) if (!n.outcome) return;
    run.finish();
  }

  private cancel(run: TraceRun, log: Logger | undefined): void {
    if (run.cancelled) return;
    run.cancelled = true;
    log?.info('cancel: deleting the runner pods (runners upload on SIGTERM)');
    for (const n of run.nodes.values()) {
      if (n.outcome) continue;
      if (!n.created) {
        // Waiting for a slot: cancelled now. Being created: launch() cancels it once created.
        if (!n.release) this.settle(run, n, { node: n.job.node, status: 'cancelled' });
        continue;
      }
      this.cancelNode(run, n, log);
    }
    this.checkDone(run);
  }

  private cancelNode(run: TraceRun, n: NodeRun, log: Logger | undefined): void {
    if (!n.started) {
      this.settle(run, n, { node: n.job.node, status: 'cancelled' });
      void this.deletePod(n, log, 0);
      return;
    }
    void this.deletePod(n, log);
    // The pod ends (runner uploaded) or disappears; if neither comes, stop waiting after the grace.
    const waitMs = (this.opts.pod.terminationGraceSeconds + 30) * 1000;
    setTimeout(() => this.settle(run, n, { node: n.job.node, status: 'cancelled', error: 'the runner pod did not end within its termination grace period' }), waitMs).unref();
  }

  /** Deletes a runner pod; `graceSeconds` 0 for pods that never ran or have ended. */
  private async deletePod(n: NodeRun, log: Logger | undefined, graceSeconds?: number): Promise<void> {
    try {
      await withRetries(() => this.core.deleteNamespacedPod({ name: n.podName, namespace: this.opts.pod.namespace, gracePeriodSeconds: graceSeconds }));
    } catch (err) {
      if (apiErrorCode(err) !== 404) log?.warn({ pod: n.podName, err: apiErrorMessage(err) }, 'cannot delete runner pod');
    }
  }

  private async cleanUp(run: TraceRun, log: Logger | undefined): Promise<void> {
    const ns = this.opts.pod.namespace;
    for (const name of run.secretNames) {
      try {
        await withRetries(() => this.core.deleteNamespacedSecret({ name, namespace: ns }));
      } catch (err) {
        if (apiErrorCode(err) !== 404) log?.warn({ secret: name, err: apiErrorMessage(err) }, 'cannot delete the runner Secret; the sweeper will');
      }
    }
    // Pods that ended were deleted as they ended; pods being cancelled are left to their grace period.
    for (const [name, pod] of run.watch?.pods() ?? []) {
      const n = run.byPod.get(name);
      if (!n || pod.metadata?.deletionTimestamp) continue;
      const state = runnerPodState(pod);
      if (state.kind === 'succeeded' || state.kind === 'failed' || !n.started) await this.deletePod(n, log, 0);
    }
  }

  async sweep(activeTraceIds: ReadonlySet<string>): Promise<number> {
    const ns = this.opts.pod.namespace;
    const keep = (obj: { metadata?: { annotations?: Record<string, string> } }) => {
      const id = obj.metadata?.annotations?.['tracejob.dev/trace-id'];
      return id !== undefined && (activeTraceIds.has(id) || this.runs.has(id));
    };
    let deleted = 0;
    const pods = await withRetries(() => this.core.listNamespacedPod({ namespace: ns, labelSelector: runnerSelector() }));
    for (const pod of pods.items) {
      if (keep(pod) || pod.metadata?.deletionTimestamp) continue;
      const state = runnerPodState(pod);
      try {
        await withRetries(() => this.core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: ns, gracePeriodSeconds: state.kind === 'running' ? undefined : 0 }));
        deleted += 1;
      } catch (err) {
        if (apiErrorCode(err) !== 404) throw err;
      }
    }
    const secrets = await withRetries(() => this.core.listNamespacedSecret({ namespace: ns, labelSelector: runnerSelector() }));
    for (const secret of secrets.items) {
      if (keep(secret)) continue;
      try {
        await withRetries(() => this.core.deleteNamespacedSecret({ name: secret.metadata!.name!, namespace: ns }));
        deleted += 1;
      } catch (err) {
        if (apiErrorCode(err) !== 404) throw err;
      }
    }
    if (deleted > 0) this.opts.logger?.info({ deleted }, 'sweeper deleted orphan runner pods/Secrets');
    return deleted;
  }

  /** Stops watching; running traces' pods stay, for the next scheduler to adopt. */
  async close(): Promise<void> {
    this.closed = true;
    for (const run of this.runs.values()) run.fail(new Error('kubernetes backend closed while the trace was running'));
    while (this.runs.size > 0) await sleep(10);
    await this.nodeHealth.stop();
  }
}
