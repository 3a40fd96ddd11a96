/**
 * `@kubernetes/client-node` 2.x runs on undici 8, which expects Node >= 22 (zlib zstd,
 * worker_threads.markAsUncloneable, Promise.withResolvers). This project runs on Node 20: fill in
 * those three before undici loads. Import it through kubernetes-client.ts, never on its own.
 * zstd stays unsupported (the apiserver never sends it: we do not ask for it).
 */
import workerThreads from 'node:worker_threads';
import zlib from 'node:zlib';

type Resolvers<T> = { promise: Promise<T>; resolve: (value: T | PromiseLike<T>) => void; reject: (reason?: unknown) => void };

const zlibMutable = zlib as unknown as { createZstdDecompress?: unknown; constants: Record<string, number> };
if (typeof zlibMutable.createZstdDecompress !== 'function') {
  zlibMutable.createZstdDecompress = () => {
    throw new Error('zstd content-encoding is not supported on this Node version');
  };
  zlibMutable.constants.ZSTD_d_windowLogMax ??= 100;
}
const wt = workerThreads as unknown as { markAsUncloneable?: (value: object) => void };
wt.markAsUncloneable ??= () => undefined;
const promiseCtor = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> };
promiseCtor.withResolvers ??= function withResolvers<T>(): Resolvers<T> {
  let resolve!: Resolvers<T>['resolve'];
  let reject!: Resolvers<T>['reject'];
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};
