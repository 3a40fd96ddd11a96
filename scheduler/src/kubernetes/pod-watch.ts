/**
 * A watch on the pods of one label selector that survives: it lists first (delivering what is
 * there, and DELETED for pods that vanished while it was away), then watches from the list's
 * resourceVersion; when the connection ends (server timeout, network error) it resumes from the
 * last resourceVersion it saw; when the apiserver answers `410 Gone` (that version is compacted
 * away) it lists again and resumes from there.
 */
import { CoreV1Api, Watch, type KubeConfig, type V1Pod } from './kubernetes-client.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiErrorCode } from './api-error.ts';

export type PodEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface PodWatchOptions {
  kubeConfig: KubeConfig;
  /** Undefined: pods of every namespace. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  onPod: (type: PodEventType, pod: V1Pod) => void;
  /** Called on errors the watch recovers from (logged by the caller). */
  onRecoverableError?: (err: unknown) => void;
  /** Server-side timeout of each watch request; the watch then reconnects. */
  timeoutSeconds?: number;
  /** Resume from this resourceVersion instead of listing first (e.g. a version saved earlier). */
  startResourceVersion?: string;
  /** Delay before reconnecting after an error, doubled up to 5 s. */
  retryDelayMs?: number;
}

export interface PodWatchStats {
  lists: number;
  watches: number;
  /** Watches that ended and were resumed. */
  reconnects: number;
  /** 410 Gone answers that made the watch list again. */
  gone: number;
  /** Failed requests (network, apiserver errors) the watch recovered from. */
  errors: number;
}

class GoneError extends Error {}

export class PodWatch {
  readonly stats: PodWatchStats = { lists: 0, watches: 0, reconnects: 0, gone: 0, errors: 0 };
  private readonly core: CoreV1Api;
  private readonly watch: Watch;
  private readonly known = new Map<string, V1Pod>();
  private resourceVersion: string | undefined;
  private stopped = false;
  private current?: AbortController;
  private loop?: Promise<void>;
  private wakeUp?: () => void;

  constructor(private readonly opts: PodWatchOptions) {
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.watch = new Watch(opts.kubeConfig);
    this.resourceVersion = opts.startResourceVersion;
  }

  /** Starts the watch; resolves once the first list has been delivered (or the first watch opened). */
  async start(): Promise<void> {
    if (this.resourceVersion === undefined) await this.list();
    this.loop = this.run();
  }

  /** Pods currently known, by name (`namespace/name` when watching every namespace). */
  pods(): ReadonlyMap<string, V1Pod> {
    return this.known;
  }

  /** Ends the current watch request now; the watch resumes from its last resourceVersion. */
  reconnectNow(): void {
    this.current?.abort();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.abort();
    this.wakeUp?.();
    await this.loop;
  }

  private key(pod: V1Pod): string | undefined {
    const name = pod.metadata?.name;
    if (!name) return undefined;
    return this.opts.namespace === undefined ? `${pod.metadata?.namespace ?? ''}/${name}` : name;
  }

  private deliver(type: PodEventType, pod: V1Pod): void {
    const name = this.key(pod);
    if (!name) return;
    if (type === 'DELETED') this.known.delete(name);
    else this.known.set(name, pod);
    this.opts.onPod(type, pod);
  }

  private async list(): Promise<void> {
    this.stats.lists += 1;
    const seen = new Set<string>();
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const query = { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector, limit: 500, _continue: cont };
      const ns = this.opts.namespace;
      const page = ns === undefined ? await this.core.listPodForAllNamespaces(query) : await this.core.listNamespacedPod({ namespace: ns, ...query });
      rv = page.metadata?.resourceVersion;
      for (const pod of page.items) {
        const name = this.key(pod);
        if (!name) continue;
        seen.add(name);
        this.deliver(this.known.has(name) ? 'MODIFIED' : 'ADDED', pod);
      }
      cont = page.metadata?._continue || undefined;
    } while (cont);
    for (const [name, pod] of [...this.known]) if (!seen.has(name)) this.deliver('DELETED', pod);
    this.resourceVersion = rv;
  }

  private async run(): Promise<void> {
    let delay = this.opts.retryDelayMs ?? 200;
    while (!this.stopped) {
      try {
        await this.watchOnce();
        delay = this.opts.retryDelayMs ?? 200;
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof GoneError || apiErrorCode(err) === 410) {
          this.stats.gone += 1;
          try {
            await this.list();
          } catch (listErr) {
            this.recovered(listErr);
            this.resourceVersion = undefined;
            await this.pause(delay);
            delay = Math.min(delay * 2, 5000);
          }
          continue;
        }
        this.recovered(err);
        await this.pause(delay);
        delay = Math.min(delay * 2, 5000);
      }
      if (this.stopped) break;
      if (this.resourceVersion === undefined) {
        try {
          await this.list();
        } catch (err) {
          this.recovered(err);
          await this.pause(delay);
          continue;
        }
      }
      this.stats.reconnects += 1;
    }
  }

  private recovered(err: unknown): void {
    this.stats.errors += 1;
    this.opts.onRecoverableError?.(err);
  }

  private pause(ms: number): Promise<void> {
    return Promise.race([sleep(ms), new Promise<void>((resolve) => (this.wakeUp = resolve))]);
  }

  /** One watch request, until the server or an error ends it. Throws GoneError on 410. */
  private watchOnce(): Promise<void> {
    this.stats.watches += 1;
    return new Promise<void>((resolve, reject) => {
      let gone = false;
      const ns = this.opts.namespace;
      const path = ns === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${encodeURIComponent(ns)}/pods`;
      const params = {
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: this.opts.timeoutSeconds ?? 25,
      };
      this.watch
        .watch(
          path,
          params,
          (type: string, obj: unknown) => {
            if (type === 'ERROR') {
              const status = obj as { code?: number; message?: string };
              if (status.code === 410) {
                gone = true;
                this.resourceVersion = undefined;
                this.current?.abort();
              }
              return;
            }
            const pod = obj as V1Pod;
            const rv = pod.metadata?.resourceVersion;
            if (rv) this.resourceVersion = rv;
            if (type === 'BOOKMARK') return;
            if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') this.deliver(type, pod);
          },
          (err: unknown) => {
            if (gone) reject(new GoneError('resource version gone'));
            else if (err && !(this.stopped || isAbort(err))) reject(err);
            else resolve();
          },
        )
        .then((ctl) => {
          this.current = ctl;
          if (this.stopped) ctl.abort();
        }, reject);
    });
  }
}

function isAbort(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'AbortError';
}
