/** The CLI's HTTP client of the tracejob API: JSON in and out, errors as ApiRequestError. */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Connection } from './parse-command.ts';
import { SseParser, type SseMessage } from './sse-parser.ts';

/** The server answered with an error (`{error, message, field?}`), or could not be reached (status 0). */
export class ApiRequestError extends Error {
  override readonly name = 'ApiRequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export class ApiClient {
  constructor(private readonly conn: Connection) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { 'user-agent': 'tracejob-cli', ...extra };
    if (this.conn.token) h.authorization = `Bearer ${this.conn.token}`;
    return h;
  }

  /** fetch with the server's base URL, auth and error mapping; returns the OK response. */
  async request(method: string, path: string, opts: { body?: unknown; accept?: string; signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers = this.headers({ ...(opts.accept ? { accept: opts.accept } : {}), ...opts.headers });
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.conn.server + path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: opts.signal,
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiRequestError(0, 'unreachable', `cannot reach ${this.conn.server}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let body: { error?: string; message?: string; field?: string } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      /* not JSON */
    }
    throw new ApiRequestError(res.status, body.error ?? `http_${res.status}`, body.message ?? (text.trim() || `HTTP ${res.status}`), body.field);
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T | undefined }> {
    const res = await this.request(method, path, { body, accept: 'application/json' });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as T) : undefined };
  }

  /** A streamed body as a Node stream. */
  async stream(path: string, accept: string): Promise<Readable> {
    const res = await this.request('GET', path, { accept });
    if (!res.body) return Readable.from([]);
    return Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  }

  /** The messages of an SSE endpoint until the server closes it or `signal` aborts. */
  async *events(path: string, signal?: AbortSignal): AsyncGenerator<SseMessage> {
    const res = await this.request('GET', path, { accept: 'text/event-stream', signal });
    if (!res.body) return;
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const msg of parser.push(decoder.decode(chunk, { stream: true }))) yield msg;
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw new ApiRequestError(0, 'stream_broken', `the progress stream broke: ${(err as Error).message}`);
    }
  }
}
