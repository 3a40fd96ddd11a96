/**
 * npm run cluster:up — starts the real single-node cluster with tracejob deployed (see
 * node-cluster.ts) and prints the env file's path; `. test-artifacts/cluster/env` then points
 * kubectl and the tracejob CLI at it. Idempotent: a cluster that is up is reused. The cluster stays
 * up until `npm run cluster:down`, also when a test had brought it up (the test then leaves it).
 */
import { clusterUp, envFile, keepCluster, withClusterLock, type UpTimings } from './node-cluster.ts';

const timings: UpTimings = {};
const t0 = Date.now();
try {
  await withClusterLock(async () => {
    await clusterUp({ timings });
    keepCluster();
  });
  console.error(`cluster: up in ${((Date.now() - t0) / 1000).toFixed(1)} s ${JSON.stringify(timings)}`);
  console.log(envFile);
} catch (err) {
  console.error(`cluster:up failed: ${(err as Error).message}`);
  process.exit(1);
}
