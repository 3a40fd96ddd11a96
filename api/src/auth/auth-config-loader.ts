/**
 * Reads the auth config once at start-up from the environment:
 * - `AUTH_CONFIG_FILE`: one YAML or JSON file;
 * - `AUTH_CONFIG_DIR`: a directory mounted from a Kubernetes Secret; every regular file in it
 *   (not dot-files, not the `..data` links kubelet makes) is a YAML/JSON document, merged;
 * - neither: open mode (allowed on loopback only, see listen-safety.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AuthConfigError, openAuthConfig, parseAuthConfig, type AuthConfig } from './access-policy.ts';

type Env = Readonly<Record<string, string | undefined>>;

function parseDocument(text: string, source: string): unknown {
  try {
    return source.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new AuthConfigError(source, `is not valid ${source.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
}

function mergeDocuments(docs: { doc: unknown; source: string }[]): Record<string, unknown> {
  const merged: { tokens: unknown[]; kubernetes?: unknown; limits?: unknown } = { tokens: [] };
  for (const { doc, source } of docs) {
    if (doc === null || doc === undefined) continue;
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new AuthConfigError(source, 'must be a mapping');
    const d = doc as Record<string, unknown>;
    // A Secret key holding one token entry (has a digest) rather than a whole document.
    if ('sha256' in d || 'hash' in d) {
      merged.tokens.push(d);
      continue;
    }
    for (const key of Object.keys(d)) {
      if (key === 'tokens') {
        if (!Array.isArray(d.tokens)) throw new AuthConfigError(`${source}: tokens`, 'must be a list');
        merged.tokens.push(...(d.tokens as unknown[]));
      } else if (key === 'kubernetes' || key === 'limits') {
        if (merged[key] !== undefined) throw new AuthConfigError(`${source}: ${key}`, 'given in more than one file');
        merged[key] = d[key];
      } else {
        throw new AuthConfigError(`${source}: ${key}`, 'unknown field (allowed: tokens, kubernetes, limits)');
      }
    }
  }
  const out: Record<string, unknown> = {};
  if (merged.tokens.length > 0) out.tokens = merged.tokens;
  if (merged.kubernetes !== undefined) out.kubernetes = merged.kubernetes;
  if (merged.limits !== undefined) out.limits = merged.limits;
  return out;
}

export function loadAuthConfigFile(file: string): AuthConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AuthConfigError('AUTH_CONFIG_FILE', `cannot read ${file}: ${(err as Error).message}`);
  }
  return parseAuthConfig(mergeDocuments([{ doc: parseDocument(text, file), source: file }]), file);
}

export function loadAuthConfigDir(dir: string): AuthConfig {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
  } catch (err) {
    throw new AuthConfigError('AUTH_CONFIG_DIR', `cannot read ${dir}: ${(err as Error).message}`);
  }
  const docs = names
    .filter((n) => statSync(join(dir, n)).isFile())
    .map((n) => ({ doc: parseDocument(readFileSync(join(dir, n), 'utf8'), join(dir, n)), source: join(dir, n) }));
  if (docs.length === 0) throw new AuthConfigError('AUTH_CONFIG_DIR', `${dir} holds no files`);
  return parseAuthConfig(mergeDocuments(docs), dir);
}

/** The auth config named by the environment; open mode when none is named. */
export function loadAuthConfig(env: Env = process.env): AuthConfig {
  const file = env.AUTH_CONFIG_FILE;
  const dir = env.AUTH_CONFIG_DIR;
  if (file && dir) throw new AuthConfigError('AUTH_CONFIG_FILE', 'set AUTH_CONFIG_FILE or AUTH_CONFIG_DIR, not both');
  if (file) return loadAuthConfigFile(file);
  if (dir) return loadAuthConfigDir(dir);
  return openAuthConfig();
}
