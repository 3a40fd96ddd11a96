/**
 * What the app and its routes are built from. Its own module, below the routes, so that routes
 * take their dependencies without importing the app that registers them (no import circle).
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TraceTarget } from '../../contracts/index.ts';
import type { Config } from '../../state/src/config.ts';
import type { ScheduleJobData } from '../../state/src/schedule-queue.ts';
import type { ScheduleStore } from '../../state/src/schedule-store.ts';
import type { TraceJobData } from '../../state/src/trace-queue.ts';
import type { TraceStore } from '../../state/src/trace-store.ts';
import type { AlertRules } from './alerts/alert-rules.ts';
import type { GadgetCatalogue } from './gadget-catalogue.ts';
import type { TracejobMetrics } from './metrics.ts';
import type { ColumnarEngine } from './store/columnar-engine.ts';
import type { ResultStore } from './store/result-store.ts';

export interface AppDeps {
  config: Readonly<Config>;
  redis: Redis;
  queue: Queue<TraceJobData>;
  queueDepth: () => Promise<number>;
  traces: TraceStore;
  results: ResultStore;
  /** The query engine of the results' columnar copies; without it event queries scan the NDJSON. */
  columnarEngine?: ColumnarEngine;
  gadgets: GadgetCatalogue;
  metrics: TracejobMetrics;
  /** Synchronous target check where the API can know (local backend): throws NoMatchingTargetError. */
  checkTarget?: (target: TraceTarget) => Promise<void>;
  /** Alertmanager webhook rules (ALERT_RULES_FILE, loaded at start): the /v1/hooks/alertmanager route exists only with them. */
  alertRules?: AlertRules;
  /** Schedules (the /v1/schedules routes): their store and the BullMQ queue of their job schedulers. */
  schedules?: { store: ScheduleStore; queue: Queue<ScheduleJobData> };
  /** false: the caller registers the watch, callback, Slack and /ui plugins itself (their own tests). Default true. */
  userFacingPlugins?: boolean;
}
