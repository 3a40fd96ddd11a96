/**
 * Who is calling: a bearer API token from the auth config (hashed, compared in constant time),
 * else — when configured — a Kubernetes token validated by TokenReview and mapped to a policy by
 * username or group. Open mode maps every caller to the anonymous, all-allowed principal.
 */
import { OPEN_POLICY, type AuthConfig, type KubernetesPolicyEntry } from './access-policy.ts';
import { hashApiToken, sha256HexEqual } from './api-token-hash.ts';
import type { KubernetesReviewer, KubernetesUser } from './kubernetes-reviews.ts';
import type { Principal } from './policy.ts';

export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
  constructor(
    message: string,
    /** `no-policy`: authenticated, but no policy maps the user (403, not 401). */
    readonly kind: 'invalid' | 'no-policy' = 'invalid',
  ) {
    super(message);
  }
}

export interface Authenticator {
  /** The principal behind an Authorization header value; throws AuthenticationError. */
  authenticate(authorization: string | undefined): Promise<Principal>;
  readonly open: boolean;
}

const MAX_TOKEN_LENGTH = 8192;

/** The token of `Authorization: Bearer <token>`, or an error saying what is wrong. */
export function bearerTokenOf(authorization: string | undefined): string {
  if (authorization === undefined || authorization === '') throw new AuthenticationError('missing Authorization: Bearer <token>');
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(authorization);
  if (!m) throw new AuthenticationError('Authorization must be "Bearer <token>"');
  if (m[1]!.length > MAX_TOKEN_LENGTH) throw new AuthenticationError('bearer token is too long');
  return m[1]!;
}

export function kubernetesPolicyFor(policies: readonly KubernetesPolicyEntry[], user: KubernetesUser): KubernetesPolicyEntry | undefined {
  return policies.find((p) => p.users.includes(user.username) || p.users.includes('*') || user.groups.some((g) => p.groups.includes(g)));
}

export function createAuthenticator(config: AuthConfig, reviewer?: KubernetesReviewer): Authenticator {
  if (config.mode === 'open') {
    const anonymous: Principal = { name: 'anonymous', via: 'open', policy: OPEN_POLICY };
    return { open: true, authenticate: async () => anonymous };
  }
  if (config.kubernetes && !reviewer) throw new Error('the kubernetes auth mode needs a KubernetesReviewer');
  const tokens = config.tokens;
  return {
    open: false,
    async authenticate(authorization) {
      const token = bearerTokenOf(authorization);
      const digest = hashApiToken(token);
      // Compare against every entry (no early exit) so timing does not tell which one matched.
      let found: Principal | undefined;
      for (const t of tokens) {
        if (sha256HexEqual(digest, t.sha256) && !found) found = { name: t.policy.name, via: 'token', policy: t.policy };
      }
      if (found) return found;
      if (config.kubernetes && reviewer) {
        const user = await reviewer.reviewToken(token);
        if (!user) throw new AuthenticationError('the token is not valid');
        const entry = kubernetesPolicyFor(config.kubernetes.policies, user);
        if (!entry) throw new AuthenticationError(`Kubernetes user ${user.username} has no tracejob policy`, 'no-policy');
        return { name: `${entry.policy.name}:${user.username}`, via: 'kubernetes', policy: entry.policy, kubernetesUser: user };
      }
      throw new AuthenticationError('the token is not valid');
    },
  };
}
