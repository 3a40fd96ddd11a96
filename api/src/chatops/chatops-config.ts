/**
 * Slack chat-ops settings, read once from the environment:
 *   SLACK_SIGNING_SECRET        the app's signing secret (chat-ops answers 503 without it)
 *   SLACK_USERS / SLACK_USERS_FILE  JSON mapping Slack users to a tracejob API token and scopes:
 *       {"T0123/U0456": {"token": "tj_…", "scopes": ["run", "read", "cancel"]}, "U0789": {...}}
 *     keys are `TEAM/USER` or a bare `USER` id; scopes default to ["read"].
 *   SLACK_RESPONSE_URL_HOSTS    hosts follow-ups may be POSTed to (default hooks.slack.com)
 *   SLACK_RESPONSE_URL_ALLOW_HTTP=true  allow http response URLs (tests, local stand-ins)
 */
import { readFileSync } from 'node:fs';

export const SLACK_SCOPES = ['run', 'read', 'cancel'] as const;
export type SlackScope = (typeof SLACK_SCOPES)[number];

export interface SlackUserGrant {
  token: string;
  scopes: readonly SlackScope[];
}

export interface SlackConfig {
  signingSecret?: string;
  users: ReadonlyMap<string, SlackUserGrant>;
  responseUrlHosts: readonly string[];
  responseUrlAllowHttp: boolean;
}

export class SlackConfigError extends Error {
  override readonly name = 'SlackConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export function parseSlackUsers(text: string, variable: string): Map<string, SlackUserGrant> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new SlackConfigError(variable, 'must be a JSON object {"TEAM/USER": {"token": "...", "scopes": ["run","read","cancel"]}}');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new SlackConfigError(variable, 'must be a JSON object keyed by Slack user id');
  const users = new Map<string, SlackUserGrant>();
  for (const [key, raw] of Object.entries(doc as Record<string, unknown>)) {
    if (!/^([A-Z0-9]+\/)?[A-Z0-9]+$/.test(key)) throw new SlackConfigError(variable, `${JSON.stringify(key)} is not a Slack user id (U…) or TEAM/USER`);
    const entry = (raw ?? {}) as { token?: unknown; scopes?: unknown };
    if (typeof entry.token !== 'string' || entry.token.length === 0) throw new SlackConfigError(variable, `${key}.token: required`);
    const scopes = entry.scopes ?? ['read'];
    if (!Array.isArray(scopes) || !scopes.every((s) => (SLACK_SCOPES as readonly unknown[]).includes(s))) {
      throw new SlackConfigError(variable, `${key}.scopes: must be a list of ${SLACK_SCOPES.join(', ')}`);
    }
    users.set(key, { token: entry.token, scopes: scopes as SlackScope[] });
  }
  return users;
}

export function loadSlackConfig(env: Env = process.env): Readonly<SlackConfig> {
  let users = new Map<string, SlackUserGrant>();
  if (env.SLACK_USERS) users = parseSlackUsers(env.SLACK_USERS, 'SLACK_USERS');
  else if (env.SLACK_USERS_FILE) {
    let text: string;
    try {
      text = readFileSync(env.SLACK_USERS_FILE, 'utf8');
    } catch (err) {
      throw new SlackConfigError('SLACK_USERS_FILE', `cannot read ${env.SLACK_USERS_FILE}: ${(err as Error).message}`);
    }
    users = parseSlackUsers(text, 'SLACK_USERS_FILE');
  }
  const allowHttp = env.SLACK_RESPONSE_URL_ALLOW_HTTP ?? 'false';
  if (!['true', 'false', ''].includes(allowHttp)) throw new SlackConfigError('SLACK_RESPONSE_URL_ALLOW_HTTP', `must be true or false, got ${JSON.stringify(allowHttp)}`);
  const config: SlackConfig = {
    users,
    responseUrlHosts: (env.SLACK_RESPONSE_URL_HOSTS ?? 'hooks.slack.com')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
    responseUrlAllowHttp: allowHttp === 'true',
  };
  if (env.SLACK_SIGNING_SECRET) config.signingSecret = env.SLACK_SIGNING_SECRET;
  return Object.freeze(config);
}

/** The grant of a Slack user: `TEAM/USER` first, then the bare user id. */
export function grantOf(config: Pick<SlackConfig, 'users'>, teamId: string | undefined, userId: string | undefined): SlackUserGrant | undefined {
  if (!userId) return undefined;
  return (teamId ? config.users.get(`${teamId}/${userId}`) : undefined) ?? config.users.get(userId);
}
