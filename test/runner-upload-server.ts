/**
 * A real HTTP server for upload tests: answers each PUT with the next scripted status (then 200),
 * and keeps what it received (headers, the unpacked tar.gz entries) for the test to check.
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedUpload {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  status: number;
}

export interface UploadServer {
  url: string;
  received: ReceivedUpload[];
  close(): Promise<void>;
}

/** `script`: statuses for the first requests (e.g. [503, 503]); every later request gets 200. */
export async function startUploadServer(script: { status: number; headers?: Record<string, string> }[] = []): Promise<UploadServer> {
  const received: ReceivedUpload[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const step = script[received.length] ?? { status: 200 };
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), status: step.status });
      res.writeHead(step.status, { 'content-type': 'application/json', ...(step.headers ?? {}) });
      res.end(JSON.stringify(step.status < 300 ? { ok: true } : { error: 'Unavailable', message: `scripted ${step.status}` }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export { untarGz } from './support/tar.ts';
