/**
 * TokenReview and SubjectAccessReview against the Kubernetes API server over plain HTTPS (the
 * API engineer's runtime, Node 20, cannot load @kubernetes/client-node 2.x, whose undici needs
 * zstd from Node 22). In-cluster by default: KUBERNETES_SERVICE_HOST/PORT, the pod's
 * ServiceAccount token and CA.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubernetesAuthConfig } from './access-policy.ts';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubernetesUser {
  username: string;
  uid?: string;
  groups: readonly string[];
}

export interface KubernetesReviewer {
  /** The user behind `token`, or undefined when the API server says it is not authenticated. */
  reviewToken(token: string): Promise<KubernetesUser | undefined>;
  /** May `user` perform `verb` on `resource` in `namespace`? */
  mayAccess(user: KubernetesUser, namespace: string, verb: string, resource: string): Promise<boolean>;
}

export class KubernetesReviewError extends Error {
  override readonly name = 'KubernetesReviewError';
}

interface Connection {
  base: URL;
  ca?: Buffer;
  tokenFile?: string;
}

function connectionOf(cfg: KubernetesAuthConfig, env: Readonly<Record<string, string | undefined>>): Connection {
  let base = cfg.apiServer;
  if (!base) {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT ?? '443';
    if (!host) throw new KubernetesReviewError('kubernetes.apiServer is not set and KUBERNETES_SERVICE_HOST is empty (not in a cluster)');
    base = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  const caFile = cfg.caFile ?? (cfg.apiServer ? undefined : `${SA_DIR}/ca.crt`);
  const conn: Connection = { base: new URL(base) };
  if (caFile) conn.ca = readFileSync(caFile);
  const tokenFile = cfg.tokenFile ?? (cfg.apiServer ? undefined : `${SA_DIR}/token`);
  if (tokenFile) conn.tokenFile = tokenFile;
  return conn;
}

function postJson(conn: Connection, path: string, body: unknown, timeoutMs: number): Promise<unknown> {
  const url = new URL(path, conn.base);
  const data = Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', 'content-length': String(data.length) };
  // Re-read on every call: projected ServiceAccount tokens are rotated by the kubelet.
  if (conn.tokenFile) headers.authorization = `Bearer ${readFileSync(conn.tokenFile, 'utf8').trim()}`;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'POST', headers, timeout: timeoutMs, ...(conn.ca ? { ca: conn.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 1024 * 1024) req.destroy(new KubernetesReviewError('answer from the API server is too large'));
        else chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) >= 300) {
          reject(new KubernetesReviewError(`${path}: the API server answered ${res.statusCode}: ${text.slice(0, 200)}`));
          return;
        }
        try {
          resolve(JSON.parse(text));
        } catch {
          reject(new KubernetesReviewError(`${path}: the API server's answer is not JSON`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new KubernetesReviewError(`${path}: no answer from the API server within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** A reviewer talking to the API server, with a small cache of positive TokenReview answers. */
export function createKubernetesReviewer(cfg: KubernetesAuthConfig, env: Readonly<Record<string, string | undefined>> = process.env, timeoutMs = 5000): KubernetesReviewer {
  const conn = connectionOf(cfg, env);
  const cache = new Map<string, { user: KubernetesUser; until: number }>();
  return {
    async reviewToken(token) {
      const hit = cache.get(token);
      if (hit && hit.until > Date.now()) return hit.user;
      cache.delete(token);
      const answer = (await postJson(
        conn,
        '/apis/authentication.k8s.io/v1/tokenreviews',
        { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(cfg.audiences.length ? { audiences: cfg.audiences } : {}) } },
        timeoutMs,
      )) as { status?: { authenticated?: boolean; user?: { username?: string; uid?: string; groups?: string[] } } };
      const st = answer.status;
      if (!st?.authenticated || !st.user?.username) return undefined;
      const user: KubernetesUser = { username: st.user.username, groups: st.user.groups ?? [] };
      if (st.user.uid) user.uid = st.user.uid;
      if (cache.size > 10_000) cache.clear();
      cache.set(token, { user, until: Date.now() + cfg.cacheSeconds * 1000 });
      return user;
    },
    async mayAccess(user, namespace, verb, resource) {
      const answer = (await postJson(
        conn,
        '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { user: user.username, groups: user.groups, ...(user.uid ? { uid: user.uid } : {}), resourceAttributes: { namespace, verb, resource } },
        },
        timeoutMs,
      )) as { status?: { allowed?: boolean } };
      return answer.status?.allowed === true;
    },
  };
}
