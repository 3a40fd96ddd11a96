/**
 * A watch on one kind of Kubernetes object that survives: it lists first (delivering what is
 * there, and DELETED for objects that vanished while it was away), then watches from the list's
 * resourceVersion; when the connection ends (server timeout, network error) it resumes from the
 * last resourceVersion it saw, after a delay that doubles on repeated errors; when the apiserver
 * answers `410 Gone` (that version is compacted away) it lists again and resumes from there.
 * PodWatch (runner pods) and NodeHealthWatch (the nodes hosting them) are this, configured.
 */
import { Watch, type KubeConfig, type KubernetesObject } from './kubernetes-client.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiErrorCode } from './api-error.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit: number;
  _continue?: string;
}

export interface ObjectList<T> {
  items: T[];
  metadata?: { resourceVersion?: string; _continue?: string };
}

export interface ObjectWatchOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** The collection's path, e.g. `/api/v1/nodes` or `/api/v1/namespaces/x/pods`. */
  path: string;
  /** One page of the collection (the typed client's list call). */
  list: (query: ListQuery) => Promise<ObjectList<T>>;
  /** The key objects are known by (default: metadata.name). */
  key?: (obj: T) => string | undefined;
  labelSelector?: string;
  fieldSelector?: string;
  onObject: (type: WatchEventType, obj: T) => void;
  /** Called on errors the watch recovers from (logged by the caller). */
  onRecoverableError?: (err: unknown) => void;
  /** Server-side timeout of each watch request; the watch then reconnects. */
  timeoutSeconds?: number;
  /** Resume from this resourceVersion instead of listing first (e.g. a version saved earlier). */
  startResourceVersion?: string;
  /** Delay before reconnecting after an error, doubled up to `maxRetryDelayMs` (default 5 s). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export interface WatchStats {
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

export class ObjectWatch<T extends KubernetesObject> {
  readonly stats: WatchStats = { lists: 0, watches: 0, reconnects: 0, gone: 0, errors: 0 };
  private readonly watch: Watch;
  private readonly known = new Map<string, T>();
  private resourceVersion: string | undefined;
  private stopped = false;
  private listed = false;
  private current?: AbortController;
  private loop?: Promise<void>;
  private wakeUp?: () => void;

  constructor(private readonly opts: ObjectWatchOptions<T>) {
    this.watch = new Watch(opts.kubeConfig);
    this.resourceVersion = opts.startResourceVersion;
  }

  /**
   * Starts the watch; resolves once the first list has been delivered (or the first watch opened).
   * A failed first list rejects and the watch does not run, unless `keepTrying`: then it lists
   * again in the background (with the backoff) and this resolves at once.
   */
  async start(keepTrying = false): Promise<void> {
    if (this.resourceVersion === undefined) {
      try {
        await this.list();
      } catch (err) {
        if (!keepTrying) throw err;
        this.recovered(err);
        this.loop = this.run(true);
        return;
      }
    }
    this.loop = this.run(false);
  }

  /** True once a list has been delivered: objects() then reflects the cluster. */
  get synced(): boolean {
    return this.listed;
  }

  /** Objects currently known, by key. */
  objects(): ReadonlyMap<string, T> {
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

  private key(obj: T): string | undefined {
    return this.opts.key ? this.opts.key(obj) : obj.metadata?.name;
  }

  private deliver(type: WatchEventType, obj: T): void {
    const key = this.key(obj);
    if (!key) return;
    if (type === 'DELETED') this.known.delete(key);
    else this.known.set(key, obj);
    this.opts.onObject(type, obj);
  }

  private async list(): Promise<void> {
    this.stats.lists += 1;
    const seen = new Set<string>();
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const page = await this.opts.list({ labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector, limit: 500, _continue: cont });
      rv = page.metadata?.resourceVersion;
      for (const obj of page.items) {
        const key = this.key(obj);
        if (!key) continue;
        seen.add(key);
        this.deliver(this.known.has(key) ? 'MODIFIED' : 'ADDED', obj);
      }
      cont = page.metadata?._continue || undefined;
    } while (cont);
    for (const [key, obj] of [...this.known]) if (!seen.has(key)) this.deliver('DELETED', obj);
    this.resourceVersion = rv;
    this.listed = true;
  }

  private async run(listFirst: boolean): Promise<void> {
    const initialDelay = this.opts.retryDelayMs ?? 200;
    const maxDelay = this.opts.maxRetryDelayMs ?? 5000;
    let delay = initialDelay;
    const backOff = async () => {
      await this.pause(delay);
      delay = Math.min(delay * 2, maxDelay);
    };
    if (listFirst) this.resourceVersion = undefined;
    while (!this.stopped) {
      if (this.resourceVersion === undefined) {
        if (listFirst) await backOff();
        listFirst = true;
        if (this.stopped) break;
        try {
          await this.list();
        } catch (err) {
          this.recovered(err);
          continue;
        }
      }
      try {
        await this.watchOnce();
        delay = initialDelay;
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof GoneError || apiErrorCode(err) === 410) {
          this.stats.gone += 1;
          this.resourceVersion = undefined;
          listFirst = false; // list again at once; back off only if that list fails
          continue;
        }
        this.recovered(err);
        await backOff();
      }
      if (this.stopped) break;
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
      const params = {
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: this.opts.timeoutSeconds ?? 25,
      };
      this.watch
        .watch(
          this.opts.path,
          params,
          (type: string, raw: unknown) => {
            if (type === 'ERROR') {
              const status = raw as { code?: number; message?: string };
              if (status.code === 410) {
                gone = true;
                this.resourceVersion = undefined;
                this.current?.abort();
              }
              return;
            }
            const obj = raw as T;
            const rv = obj.metadata?.resourceVersion;
            if (rv) this.resourceVersion = rv;
            if (type === 'BOOKMARK') return;
            if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') this.deliver(type, obj);
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
