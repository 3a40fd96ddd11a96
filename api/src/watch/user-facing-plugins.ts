/**
 * Registers the user-facing plugins on the app: live progress (SSE watch), completion callbacks,
 * Slack chat-ops and the /ui page. One call from the app plugin (app.ts):
 *
 *   await registerUserFacingPlugins(app, deps);
 *
 * The callback and Slack settings are read from `env` here, once, when the app is built.
 */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { loadCallbackConfig } from '../callbacks/callback-config.ts';
import completionCallbacks from '../callbacks/callbacks-plugin.ts';
import { loadSlackConfig } from '../chatops/chatops-config.ts';
import slackChatops from '../chatops/slack-plugin.ts';
import type { ResultStore } from '../store/result-store.ts';
import tracejobUi from '../ui/ui-plugin.ts';
import type { TraceReader } from './trace-progress.ts';
import traceWatch from './watch-plugin.ts';

export interface UserFacingDeps {
  config: { publicUrl?: string };
  redis: Redis;
  traces: TraceReader;
  results: ResultStore;
}

export async function registerUserFacingPlugins(app: FastifyInstance, deps: UserFacingDeps, env: Readonly<Record<string, string | undefined>> = process.env): Promise<void> {
  const { redis, traces, results } = deps;
  const publicUrl = deps.config.publicUrl;
  await app.register(traceWatch, { traces, results });
  await app.register(completionCallbacks, { config: loadCallbackConfig(env), redis, traces, results, ...(publicUrl ? { publicUrl } : {}) });
  await app.register(slackChatops, { config: loadSlackConfig(env), redis, traces, results, ...(publicUrl ? { publicUrl } : {}) });
  await app.register(tracejobUi);
}
