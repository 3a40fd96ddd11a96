/**
 * Limits on concurrent runner pods: at most `perNode` on one node and `total` in all. A slot is
 * taken before a pod is created (or adopted) and given back when its pod has ended or is gone;
 * waiters are served first come, first served, skipping those whose node is full.
 */
export interface RunnerSlotLimits {
  perNode: number;
  total: number;
}

interface Waiter {
  node: string;
  resolve: (release: () => void) => void;
  reject: (err: unknown) => void;
}

export class RunnerSlots {
  private inUse = 0;
  private readonly byNode = new Map<string, number>();
  private readonly waiters: Waiter[] = [];

  constructor(private readonly limits: RunnerSlotLimits) {
    if (!(limits.perNode >= 1) || !(limits.total >= 1)) throw new Error('RunnerSlots: limits must be >= 1');
  }

  get active(): number {
    return this.inUse;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  private free(node: string): boolean {
    return this.inUse < this.limits.total && (this.byNode.get(node) ?? 0) < this.limits.perNode;
  }

  private take(node: string): () => void {
    this.inUse += 1;
    this.byNode.set(node, (this.byNode.get(node) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse -= 1;
      const left = (this.byNode.get(node) ?? 1) - 1;
      if (left === 0) this.byNode.delete(node);
      else this.byNode.set(node, left);
      this.serve();
    };
  }

  private serve(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!;
      if (this.free(w.node)) {
        this.waiters.splice(i, 1);
        w.resolve(this.take(w.node));
      } else {
        i += 1;
      }
    }
  }

  /** Waits for a slot on `node`; resolves with its release function. Rejects if `signal` aborts first. */
  acquire(node: string, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    if (this.free(node) && this.waiters.length === 0) return Promise.resolve(this.take(node));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { node, resolve, reject };
      this.waiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) {
            this.waiters.splice(i, 1);
            reject(signal.reason ?? new Error('aborted'));
          }
        },
        { once: true },
      );
      this.serve();
    });
  }
}
