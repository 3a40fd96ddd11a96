/** One POST of a JSON body with a timeout; says whether it is worth retrying. Redirects are not followed. */

export interface PostOutcome {
  ok: boolean;
  status?: number;
  /** Network error, timeout, 5xx or 429: try again later. */
  retryable: boolean;
  error?: string;
}

export async function postJson(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<PostOutcome> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'tracejob', ...headers },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, retryable: false };
    const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
    return { ok: false, status: res.status, retryable, error: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const reason = e.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : (e.cause?.code ?? e.message);
    return { ok: false, retryable: true, error: reason };
  }
}
