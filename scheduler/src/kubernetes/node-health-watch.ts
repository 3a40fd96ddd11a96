/**
 * The health of the nodes that host runner pods, from one watch of every Node shared by all the
 * traces of a scheduler process (not one per trace). A followed node is lost when its Ready
 * condition has stayed False or Unknown for `graceSeconds` — a node back to Ready before that is
 * not — or at once when its Node object is deleted (or, once the watch has listed the Nodes, does
 * not exist). Each follower hears of a loss once.
 *
 * The Ready condition turns Unknown when the node lifecycle controller has had no heartbeat for
 * its node-monitor-grace-period (40–50 s), and False when the kubelet itself reports the node
 * unfit (container runtime or network down): a runner pod on such a node cannot report its end.
 */
import type { Logger } from 'pino';
import { CoreV1Api, type KubeConfig, type V1Node } from './kubernetes-client.ts';
import { apiErrorCode, apiErrorMessage } from './api-error.ts';
import { ObjectWatch, type WatchEventType, type WatchStats } from './object-watch.ts';

export interface NodeLoss {
  node: string;
  /** What happened, to follow "node X": `became NotReady`, `was deleted`, `does not exist`. */
  what: 'became NotReady' | 'was deleted' | 'does not exist';
  /** The Ready condition's status, reason and message, when it said something. */
  detail?: string;
}

export type NodeReadiness = { ready: 'True' | 'False' | 'Unknown' | undefined; detail?: string };

/** A Node's Ready condition; `undefined` when it has none yet (a node still registering). */
export function nodeReadiness(node: V1Node): NodeReadiness {
  const cond = node.status?.conditions?.find((c) => c.type === 'Ready');
  const status = cond?.status;
  const ready = status === 'True' || status === 'False' || status === 'Unknown' ? status : undefined;
  if (!cond || ready === undefined || ready === 'True') return { ready };
  const words = [cond.reason, cond.message?.trim()].filter(Boolean).join(': ');
  return { ready, detail: `Ready=${ready}${words ? `, ${words}` : ''}` };
}

export interface NodeHealthWatchOptions {
  kubeConfig: KubeConfig;
  /** Seconds a node may stay NotReady before its runners are given up (0: at once). */
  graceSeconds: number;
  /** Server-side timeout of each watch request. */
  timeoutSeconds?: number;
  logger?: Logger;
}

type LossListener = (loss: NodeLoss) => void;

interface NodeHealth {
  /** When this process first saw the node NotReady (monotonic ms), while it stays so. */
  notReadySince?: number;
  detail?: string;
  timer?: NodeJS.Timeout;
  lost?: NodeLoss;
}

export class NodeHealthWatch {
  private readonly health = new Map<string, NodeHealth>();
  private readonly followers = new Map<string, Set<LossListener>>();
  private watch?: ObjectWatch<V1Node>;
  private starting?: Promise<void>;
  private deniedLogged = false;

  constructor(private readonly opts: NodeHealthWatchOptions) {}

  get stats(): WatchStats | undefined {
    return this.watch?.stats;
  }

  /**
   * Follows `nodes` until the returned function is called: `onLost` hears of each one's loss once
   * (never synchronously from this call). Starts the shared watch on first use; if the Nodes cannot
   * be watched (no RBAC, apiserver down) the trace goes on without, and the watch keeps retrying.
   */
  async follow(nodes: readonly string[], onLost: LossListener): Promise<() => void> {
    await this.ensureStarted();
    const notified = new Set<string>();
    const listener: LossListener = (loss) => {
      if (notified.has(loss.node)) return;
      notified.add(loss.node);
      onLost(loss);
    };
    const unknown = this.watch?.synced ? nodes.filter((n) => !this.watch!.objects().has(n) && !this.health.get(n)?.lost) : [];
    for (const node of await this.confirmMissing(unknown)) this.stateOf(node).lost = { node, what: 'does not exist' };
    for (const node of nodes) {
      let set = this.followers.get(node);
      if (!set) this.followers.set(node, (set = new Set()));
      set.add(listener);
      const lost = this.health.get(node)?.lost;
      if (lost) queueMicrotask(() => listener(lost));
      else this.arm(node);
    }
    return () => {
      for (const node of nodes) {
        const set = this.followers.get(node);
        set?.delete(listener);
        if (set && set.size === 0) {
          this.followers.delete(node);
          const h = this.health.get(node);
          if (h?.timer) clearTimeout(h.timer);
          if (h) h.timer = undefined;
        }
      }
    };
  }

  /** Of nodes the watch has not seen, those the apiserver confirms absent (the watch may lag a registration). */
  private async confirmMissing(nodes: string[]): Promise<string[]> {
    if (nodes.length === 0) return [];
    const core = this.opts.kubeConfig.makeApiClient(CoreV1Api);
    try {
      // A few: one small list each, at once; many: one list of every Node (pages of 500).
      const present = new Set<string>();
      if (nodes.length <= 5) {
        const lists = await Promise.all(nodes.map((node) => core.listNode({ fieldSelector: `metadata.name=${node}`, limit: 1 })));
        for (const list of lists) for (const n of list.items) if (n.metadata?.name) present.add(n.metadata.name);
      } else {
        let cont: string | undefined;
        do {
          const page = await core.listNode({ limit: 500, _continue: cont });
          for (const n of page.items) if (n.metadata?.name) present.add(n.metadata.name);
          cont = page.metadata?._continue || undefined;
        } while (cont);
      }
      return nodes.filter((n) => !present.has(n));
    } catch (err) {
      this.opts.logger?.warn({ nodes, err: apiErrorMessage(err) }, 'cannot check whether Nodes exist; not judging them');
      return [];
    }
  }

  async stop(): Promise<void> {
    for (const h of this.health.values()) if (h.timer) clearTimeout(h.timer);
    await this.starting?.catch(() => undefined);
    await this.watch?.stop();
  }

  private ensureStarted(): Promise<void> {
    if (!this.starting) {
      const core = this.opts.kubeConfig.makeApiClient(CoreV1Api);
      this.watch = new ObjectWatch<V1Node>({
        kubeConfig: this.opts.kubeConfig,
        path: '/api/v1/nodes',
        list: (query) => core.listNode(query),
        onObject: (type, node) => this.onNode(type, node),
        onRecoverableError: (err) => this.onWatchError(err),
        timeoutSeconds: this.opts.timeoutSeconds ?? 25,
        maxRetryDelayMs: 30_000,
      });
      this.starting = this.watch.start(true);
    }
    return this.starting;
  }

  private onWatchError(err: unknown): void {
    const code = apiErrorCode(err);
    if (code === 403) {
      if (this.deniedLogged) return;
      this.deniedLogged = true;
      this.opts.logger?.warn({ err: apiErrorMessage(err) }, 'cannot watch Nodes (RBAC: list and watch nodes): a dead node\'s runners end only by their timeouts');
      return;
    }
    this.opts.logger?.warn({ err: apiErrorMessage(err) }, 'Node watch interrupted; resuming');
  }

  private stateOf(node: string): NodeHealth {
    let h = this.health.get(node);
    if (!h) this.health.set(node, (h = {}));
    return h;
  }

  private onNode(type: WatchEventType, node: V1Node): void {
    const name = node.metadata?.name;
    if (!name) return;
    const h = this.stateOf(name);
    if (type === 'DELETED') {
      if (h.timer) clearTimeout(h.timer);
      h.timer = undefined;
      h.notReadySince = undefined;
      if (!h.lost || h.lost.what !== 'was deleted') this.lose(name, { node: name, what: 'was deleted' });
      return;
    }
    const { ready, detail } = nodeReadiness(node);
    if (ready === 'False' || ready === 'Unknown') {
      h.detail = detail;
      if (h.notReadySince === undefined) {
        h.notReadySince = performance.now();
        if (this.followers.has(name)) this.opts.logger?.warn({ node: name, detail, graceSeconds: this.opts.graceSeconds }, 'node hosting runner pods is NotReady; its runners are given up unless it recovers within the grace period');
      }
      this.arm(name);
      return;
    }
    // Ready (or no condition yet): healthy. A node that comes back is healthy for later traces;
    // traces that already gave it up do not get it back.
    if (h.timer) clearTimeout(h.timer);
    if (h.notReadySince !== undefined && !h.lost && this.followers.has(name)) this.opts.logger?.info({ node: name }, 'node is Ready again within the grace period: its runners go on');
    this.health.set(name, {});
  }

  /** Starts the grace timer of a NotReady node that someone follows. */
  private arm(node: string): void {
    const h = this.health.get(node);
    if (!h || h.notReadySince === undefined || h.lost || h.timer || !this.followers.has(node)) return;
    const left = Math.max(0, h.notReadySince + this.opts.graceSeconds * 1000 - performance.now());
    h.timer = setTimeout(() => {
      h.timer = undefined;
      if (h.notReadySince === undefined || h.lost) return;
      const loss: NodeLoss = { node, what: 'became NotReady' };
      if (h.detail) loss.detail = h.detail;
      this.lose(node, loss);
    }, left);
    h.timer.unref();
  }

  private lose(node: string, loss: NodeLoss): void {
    this.stateOf(node).lost = loss;
    for (const listener of [...(this.followers.get(node) ?? [])]) listener(loss);
  }
}
