/**
 * A real Alertmanager for the alert-webhook tests: the binary built by build-alertmanager.sh
 * (cached under $TRACEJOB_CACHE/bin), started on a free loopback port with clustering off, a
 * config whose receivers are tracejob's webhook, and short group_wait/group_interval/repeat_interval
 * so notifications (and their repeats) arrive within seconds. Tests send alerts through its own API
 * (POST /api/v2/alerts) and Alertmanager fires them at tracejob.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify as toYaml } from 'yaml';
import { freeLoopbackPort } from '../../state/src/redis-server-process.ts';

const CACHE = process.env.TRACEJOB_CACHE || '/var/cache/tracejob';
export const ALERTMANAGER_BINARY = join(CACHE, 'bin', 'alertmanager');

/** Why the Alertmanager tests cannot run here, or undefined when they can. */
export function alertmanagerSkipReason(): string | undefined {
  if (!existsSync(ALERTMANAGER_BINARY)) return `no ${ALERTMANAGER_BINARY}: build it with bash test/alerts/build-alertmanager.sh (or scripts/build-test-binaries.sh)`;
  return undefined;
}

/** One receiver: the webhook URL and the bearer token Alertmanager sends (its http_config). */
export interface WebhookReceiver {
  name: string;
  url: string;
  bearerToken: string;
  /** Alerts whose labels match these (equality) go to this receiver; the first receiver is the default. */
  match?: Record<string, string>;
}

export interface AlertmanagerOptions {
  receivers: [WebhookReceiver, ...WebhookReceiver[]];
  /** Go durations; defaults: 200ms, 1s, 2s. */
  groupWait?: string;
  groupInterval?: string;
  repeatInterval?: string;
}

export interface PostedAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface RunningAlertmanager {
  url: string;
  /** POST /api/v2/alerts (Alertmanager's own API). */
  postAlerts(alerts: PostedAlert[]): Promise<void>;
  /** Lines Alertmanager logged (for a failing test's message). */
  output(): string;
  close(): Promise<void>;
}

function configYaml(opts: AlertmanagerOptions): string {
  const [first, ...rest] = opts.receivers;
  const doc = {
    route: {
      receiver: first.name,
      // every alert its own group: one notification per alert, repeated on its own schedule
      group_by: ['...'],
      group_wait: opts.groupWait ?? '200ms',
      group_interval: opts.groupInterval ?? '1s',
      repeat_interval: opts.repeatInterval ?? '2s',
      routes: rest
        .filter((r) => r.match)
        .map((r) => ({ receiver: r.name, matchers: Object.entries(r.match!).map(([k, v]) => `${k}="${v}"`) })),
    },
    receivers: opts.receivers.map((r) => ({
      name: r.name,
      webhook_configs: [
        {
          url: r.url,
          send_resolved: true,
          max_alerts: 0,
          http_config: { authorization: { type: 'Bearer', credentials: r.bearerToken } },
        },
      ],
    })),
  };
  return toYaml(doc);
}

export async function startAlertmanager(opts: AlertmanagerOptions): Promise<RunningAlertmanager> {
  const dir = mkdtempSync(join(tmpdir(), 'tracejob-alertmanager-'));
  const configFile = join(dir, 'alertmanager.yml');
  writeFileSync(configFile, configYaml(opts));
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const child: ChildProcess = spawn(
    ALERTMANAGER_BINARY,
    [
      `--config.file=${configFile}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=${url}`,
      '--cluster.listen-address=', // no gossip: a single instance, no port of its own
      '--log.level=debug',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keep = (d: Buffer) => {
    log = (log + d.toString()).slice(-200_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  // Readiness: /-/ready answers 200 once the config is loaded and the API serves.
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await close();
      throw new Error(`alertmanager exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${log.slice(-4000)}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`alertmanager was not ready within 30 s:\n${log.slice(-4000)}`);
    }
    await sleep(50);
  }

  return {
    url,
    async postAlerts(alerts) {
      const res = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      if (!res.ok) throw new Error(`POST /api/v2/alerts: ${res.status} ${await res.text()}`);
    },
    output: () => log,
    close,
  };
}
