/**
 * The scheduler: a BullMQ worker on the "traces" queue. For each trace it resolves the target into
 * per-node plans (kept in the trace record so a restarted scheduler reuses them), builds one
 * NodeJobSpec per node with its upload URL and token, runs them through the backend, and sets the
 * final status from the runners' outcomes and the uploaded summaries.
 *
 * Cancel across processes: the API marks the trace and publishes its id on `tj:cancel`; this worker
 * aborts the trace's signal (a 1 s poll of the cancel mark covers a missed message).
 * A scheduler that dies mid-trace: BullMQ's stalled-job check hands the job to another worker,
 * which runs it again; the backend adopts the runners that are still alive.
 */
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { lossReason, overallStatus, type NodeJobSpec, type NodeState, type TraceStatus } from '../../contracts/index.ts';
import { NoMatchingTargetError, type NodeOutcome, type NodePlan, type RunnerBackend } from './backend.ts';
import { TRACE_QUEUE_NAME, type TraceJobData } from '../../state/src/trace-queue.ts';
import { CANCEL_CHANNEL, type NodeResultCounts, type TraceRecord, type TraceStore } from '../../state/src/trace-store.ts';
import { issueUploadToken } from '../../state/src/upload-token.ts';
import type { Config } from '../../state/src/config.ts';

export interface TraceWorkerOptions {
  /** Connection for BullMQ (maxRetriesPerRequest: null). */
  connection: Redis;
  /** A connection of its own for the cancel channel (it enters subscriber mode). */
  subscriber: Redis;
  traces: TraceStore;
  backend: RunnerBackend;
  /** Base URL runners upload to, e.g. http://127.0.0.1:8080 (a function: the port may be known late). */
  uploadBaseUrl: () => string;
  uploadTokenSecret: string;
  maxResultBytes: number;
  runnerGraceSeconds: number;
  concurrency: number;
  lockSeconds: number;
  logger: Logger;
  onTraceFinished?: (status: TraceStatus, seconds: number | undefined) => void;
}

/** The worker options that come straight from the configuration (the same in every scheduler process). */
export function workerSettingsFrom(
  config: Pick<Config, 'uploadTokenSecret' | 'maxResultBytes' | 'runnerGraceSeconds' | 'schedulerConcurrency' | 'schedulerLockSeconds'>,
): Pick<TraceWorkerOptions, 'uploadTokenSecret' | 'maxResultBytes' | 'runnerGraceSeconds' | 'concurrency' | 'lockSeconds'> {
  return {
    uploadTokenSecret: config.uploadTokenSecret,
    maxResultBytes: config.maxResultBytes,
    runnerGraceSeconds: config.runnerGraceSeconds,
    concurrency: config.schedulerConcurrency,
    lockSeconds: config.schedulerLockSeconds,
  };
}

/** A node's final state from how its runner ended and what it uploaded. */
export function nodeFinalState(prior: NodeState | undefined, outcome: NodeOutcome, result: NodeResultCounts | undefined, now: string): NodeState {
  const state: NodeState = { ...(prior ?? { node: outcome.node, events: 0, lostEvents: 0 }), node: outcome.node, status: 'failed', finishedAt: now };
  if (result) {
    state.events = result.events;
    state.lostEvents = result.lostEvents;
    state.truncated = result.truncated;
    if (result.stopReason) state.stopReason = result.stopReason;
  }
  delete state.error;
  if (outcome.status === 'cancelled') {
    state.status = 'cancelled';
  } else if (outcome.status === 'failed' && outcome.lost && result && !result.error && result.stopReason !== 'error') {
    // The node was lost after its runner had uploaded: its events are all there.
    state.status = 'succeeded';
  } else if (outcome.status === 'failed') {
    state.error = outcome.error ?? result?.error ?? 'the runner failed';
  } else if (!result) {
    state.error = 'the runner ended without uploading a result';
  } else if (result.stopReason === 'error' || result.error) {
    state.error = result.error ?? 'the runner stopped on an error';
  } else {
    state.status = 'succeeded';
  }
  return state;
}

export class TraceWorker {
  private worker?: Worker<TraceJobData>;
  private readonly running = new Map<string, AbortController>();
  private cancelPoll?: NodeJS.Timeout;

  constructor(private readonly opts: TraceWorkerOptions) {}

  async start(): Promise<void> {
    const { subscriber } = this.opts;
    subscriber.on('message', (channel: string, id: string) => {
      if (channel === CANCEL_CHANNEL) this.abort(id);
    });
    await subscriber.subscribe(CANCEL_CHANNEL);
    this.cancelPoll = setInterval(() => void this.pollCancels(), 1000);
    this.cancelPoll.unref();
    const lockDuration = this.opts.lockSeconds * 1000;
    this.worker = new Worker<TraceJobData>(TRACE_QUEUE_NAME, (job) => this.process(job), {
      connection: this.opts.connection,
      concurrency: this.opts.concurrency,
      lockDuration,
      stalledInterval: lockDuration,
      maxStalledCount: 5,
      autorun: true,
    });
    this.worker.on('error', (err) => this.opts.logger.error({ err }, 'scheduler worker error'));
    await this.worker.waitUntilReady();
  }

  /** Stop taking traces; `force` leaves running traces to be recovered by another scheduler. */
  async close(force = false): Promise<void> {
    if (this.cancelPoll) clearInterval(this.cancelPoll);
    await this.worker?.close(force);
    await this.opts.subscriber.unsubscribe(CANCEL_CHANNEL).catch(() => undefined);
  }

  /** Trace ids this scheduler is running now. */
  activeTraceIds(): string[] {
    return [...this.running.keys()];
  }

  private abort(id: string): void {
    const ctl = this.running.get(id);
    if (ctl && !ctl.signal.aborted) {
      this.opts.logger.info({ traceId: id }, 'cancel received: stopping the runners');
      ctl.abort();
    }
  }

  private async pollCancels(): Promise<void> {
    for (const id of this.running.keys()) {
      if (await this.opts.traces.isCancelRequested(id).catch(() => false)) this.abort(id);
    }
  }

  private async process(job: Job<TraceJobData>): Promise<void> {
    const id = job.data.traceId;
    const log = this.opts.logger.child({ traceId: id });
    const rec = await this.opts.traces.get(id);
    if (!rec) {
      log.warn('trace record is gone (expired or deleted): skipped');
      return;
    }
    if (rec.status !== 'queued' && rec.status !== 'running') {
      log.info({ status: rec.status }, 'trace already ended: skipped');
      return;
    }
    const ctl = new AbortController();
    this.running.set(id, ctl);
    try {
      if (rec.cancelRequested) ctl.abort();
      await this.runTrace(rec, ctl.signal, log);
    } finally {
      this.running.delete(id);
    }
  }

  private async runTrace(rec: TraceRecord, signal: AbortSignal, log: Logger): Promise<void> {
    const { traces, backend } = this.opts;
    const id = rec.id;
    const resumed = rec.status === 'running';
    await traces.markRunning(id);
    log.info({ resumed, gadget: rec.spec.gadget }, resumed ? 'trace resumed by this scheduler' : 'trace started');

    let plans = await traces.plans(id);
    if (!plans) {
      try {
        plans = await backend.resolveTargets(rec.spec.target);
      } catch (err) {
        const message = err instanceof NoMatchingTargetError ? err.message : `target resolution failed: ${(err as Error).message}`;
        log.warn({ err }, 'target resolution failed');
        await this.finish(id, 'failed', message, log);
        return;
      }
      if (plans.length === 0) {
        await this.finish(id, 'failed', 'no node hosts the target', log);
        return;
      }
      await traces.setPlans(id, plans);
    }
    const priorNodes = new Map(rec.nodes.map((n) => [n.node, n]));
    for (const plan of plans) {
      if (!priorNodes.has(plan.node)) await traces.setNodeStatus(id, plan.node, 'pending');
    }
    if (signal.aborted) {
      for (const plan of plans) await traces.setNodeStatus(id, plan.node, 'cancelled', { finishedAt: new Date().toISOString() });
      await this.finish(id, 'cancelled', undefined, log);
      return;
    }

    const jobs = plans.map((plan) => this.nodeJob(rec, plan));
    let outcomes: NodeOutcome[];
    try {
      outcomes = await backend.run(jobs, {
        signal,
        onNodeRunning: (node) => {
          log.info({ node }, 'runner running');
          void traces.setNodeStatus(id, node, 'running', { startedAt: new Date().toISOString() }).catch((err: unknown) => log.error({ err, node }, 'could not record node state'));
        },
      });
    } catch (err) {
      log.error({ err }, 'backend failed to run the trace');
      outcomes = plans.map((p) => ({ node: p.node, status: 'failed' as const, error: `backend error: ${(err as Error).message}` }));
    }

    const now = new Date().toISOString();
    const current = new Map(((await traces.get(id))?.nodes ?? []).map((n) => [n.node, n]));
    const finalNodes: NodeState[] = [];
    for (const outcome of outcomes) {
      const result = await traces.nodeResult(id, outcome.node);
      const state = nodeFinalState(current.get(outcome.node), outcome, result, now);
      await traces.setNodeState(id, state);
      finalNodes.push(state);
      log.info({ node: state.node, status: state.status, events: state.events, lostEvents: state.lostEvents, error: state.error }, 'node ended');
    }
    const cancelled = signal.aborted || (await traces.isCancelRequested(id));
    const status = overallStatus(finalNodes, cancelled);
    const errors = finalNodes.filter((n) => n.error).map((n) => `${n.node}: ${n.error}`);
    const loss = lossReason(finalNodes);
    if (loss) errors.push(loss);
    await this.finish(id, status, status === 'failed' || status === 'partial' ? errors.join('; ') || undefined : undefined, log);
  }

  private nodeJob(rec: TraceRecord, plan: NodePlan): NodeJobSpec {
    const expires = new Date(Date.now() + (rec.spec.durationSeconds + this.opts.runnerGraceSeconds + 600) * 1000);
    const base = this.opts.uploadBaseUrl().replace(/\/+$/, '');
    return {
      traceId: rec.id,
      node: plan.node,
      gadget: rec.spec.gadget,
      params: rec.spec.params,
      durationSeconds: rec.spec.durationSeconds,
      maxEvents: rec.spec.limits.maxEvents,
      maxResultBytes: this.opts.maxResultBytes,
      targets: plan.targets,
      upload: {
        url: `${base}/v1/traces/${rec.id}/nodes/${encodeURIComponent(plan.node)}/result`,
        progressUrl: `${base}/v1/traces/${rec.id}/nodes/${encodeURIComponent(plan.node)}/progress`,
        token: issueUploadToken(this.opts.uploadTokenSecret, rec.id, plan.node, expires),
      },
    };
  }

  private async finish(id: string, status: TraceStatus, error: string | undefined, log: Logger): Promise<void> {
    const final = await this.opts.traces.finish(id, status, error);
    const rec = await this.opts.traces.get(id);
    const seconds = rec?.startedAt && rec.finishedAt ? (Date.parse(rec.finishedAt) - Date.parse(rec.startedAt)) / 1000 : undefined;
    log.info({ status: final, error, seconds }, 'trace ended');
    if (final) this.opts.onTraceFinished?.(final, seconds);
    if (rec?.spec.callbackUrl) await this.callback(rec.spec.callbackUrl, { id, status: final ?? status, error }, log);
  }

  private async callback(url: string, body: unknown, log: Logger): Promise<void> {
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
      log.info({ url, status: res.status }, 'callback sent');
    } catch (err) {
      log.warn({ url, err: (err as Error).message }, 'callback failed');
    }
  }
}
