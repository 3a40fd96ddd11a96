/**
 * The API on its own (no scheduler worker in the process): what the `api` Deployment runs on
 * Kubernetes. Needs REDIS_URL; with BACKEND=kubernetes, POST /v1/traces checks at once that a
 * running pod matches the target (in-cluster ServiceAccount, or KUBECONFIG outside a cluster).
 * It lives in cli/ because it wires the API to the scheduler's target resolution (the check), and
 * only the top layer imports both.
 * Run: node dist/cli/api-main.js  (or with tsx from the sources)
 */
import { pino } from 'pino';
import type { TraceTarget } from '../contracts/index.ts';
import { checkLocalTarget, findCgroupV2Root } from '../scheduler/src/local/local-targets.ts';
import { kubernetesTargetCheckFromEnv } from '../scheduler/src/kubernetes/target-check.ts';
import { startApiServer } from '../api/src/api-server.ts';
import { UnsafeListenError } from '../api/src/auth/listen-safety.ts';
import { ConfigError, loadConfig } from '../state/src/config.ts';

async function main(): Promise<void> {
  let config;
  let checkTarget: (target: TraceTarget) => Promise<void>;
  try {
    config = loadConfig();
    if (!config.redisUrl) throw new ConfigError('REDIS_URL', 'required for an API process on its own (the all-in-one `tracejob serve` starts its own)');
    if (config.backend === 'kubernetes') {
      checkTarget = kubernetesTargetCheckFromEnv();
    } else {
      const cgroupRoot = findCgroupV2Root();
      checkTarget = async (target) => checkLocalTarget(target, cgroupRoot);
    }
  } catch (err) {
    console.error(`tracejob-api: invalid configuration: ${(err as Error).message}`);
    process.exit(2);
  }
  const logger = pino({ level: config.logLevel }).child({ component: 'api' });
  let api;
  try {
    api = await startApiServer({ config, redisUrl: config.redisUrl, logger, checkTarget });
  } catch (err) {
    if (err instanceof UnsafeListenError) {
      console.error(`tracejob-api: ${err.message}`);
      process.exit(2);
    }
    logger.fatal({ err }, 'could not start');
    process.exit(1);
  }
  logger.info({ url: api.url, backend: config.backend, authentication: api.open ? 'open' : 'enforced' }, `tracejob API ready on ${api.url}`);
  const stop = () => void api.close().then(() => process.exit(0), () => process.exit(1));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

await main();
