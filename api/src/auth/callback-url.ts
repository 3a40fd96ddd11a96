/**
 * Callback URLs (POSTed when a trace ends) may only point to allowed hosts: https (http only when
 * allowed explicitly), a host on the allow-list, no credentials in the URL, and never an IP
 * literal in loopback, link-local (cloud metadata 169.254.169.254), unspecified or private
 * ranges unless that literal is itself on the allow-list.
 */
import { isIP } from 'node:net';

export interface CallbackUrlPolicy {
  /** Host names (exact, lower case) or `*.example.com` suffix patterns; IP literals listed here are allowed as given. */
  allowedHosts: readonly string[];
  /** Allow plain http (default false). */
  allowHttp?: boolean;
}

export type CallbackUrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

function ipv4Parts(ip: string): number[] {
  return ip.split('.').map(Number);
}

/** Loopback, link-local, private, CGNAT, unspecified, multicast and metadata ranges. */
export function isSensitiveIp(ip: string): boolean {
  const kind = isIP(ip);
  if (kind === 4) {
    const [a, b] = ipv4Parts(ip) as [number, number];
    return (
      a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || a >= 224
    );
  }
  if (kind === 6) {
    const h = ip.toLowerCase();
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    if (mapped) return isSensitiveIp(mapped[1]!);
    if (/^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(h)) return true; // mapped v4 in hex form
    return h === '::' || h === '::1' || /^fe[89ab]/.test(h) || /^f[cd]/.test(h) || /^ff/.test(h) || h.startsWith('fd00:ec2::');
  }
  return false;
}

function hostAllowed(host: string, allowed: readonly string[]): boolean {
  return allowed.some((pattern) => {
    const p = pattern.toLowerCase().replace(/\.$/, '');
    if (p.startsWith('*.')) return host.endsWith(p.slice(1)) && host.length > p.length - 1;
    return host === p;
  });
}

export function checkCallbackUrl(raw: string, policy: CallbackUrlPolicy): CallbackUrlCheck {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2048) return { ok: false, reason: 'must be a URL of at most 2048 characters' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'is not a URL' };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    return { ok: false, reason: policy.allowHttp ? 'must use https or http' : 'must use https' };
  }
  if (url.username || url.password) return { ok: false, reason: 'must not carry credentials' };
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (host === '') return { ok: false, reason: 'has no host' };
  const literal = isIP(host) !== 0;
  if (literal && isSensitiveIp(host) && !policy.allowedHosts.map((h) => h.toLowerCase().replace(/^\[|\]$/g, '')).includes(host)) {
    return { ok: false, reason: `host ${host} is a loopback, link-local, private or metadata address` };
  }
  if (!hostAllowed(host, policy.allowedHosts.map((h) => h.replace(/^\[|\]$/g, '')))) {
    return { ok: false, reason: `host ${host} is not on the callback allow-list` };
  }
  return { ok: true, url };
}

/** Boolean form of checkCallbackUrl. */
export function isAllowedCallbackUrl(url: string, allowedHosts: readonly string[], opts: { allowHttp?: boolean } = {}): boolean {
  return checkCallbackUrl(url, { allowedHosts, ...opts }).ok;
}
