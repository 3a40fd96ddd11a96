/**
 * npm run cluster:down — stops the real single-node cluster and removes everything cluster:up
 * created; exits non-zero and lists what is left when something could not be removed.
 */
import { clusterDown, withClusterLock } from './node-cluster.ts';

const left = await withClusterLock(() => clusterDown());
if (left.length > 0) {
  console.error(`cluster:down left behind:\n  ${left.join('\n  ')}`);
  process.exit(1);
}
console.error('cluster: down, nothing left behind');
