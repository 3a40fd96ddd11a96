/**
 * A small HTTP server standing in for the API's upload endpoint in backend-level tests:
 * PUT /v1/traces/:id/nodes/:node/result with the node's bearer token; keeps the tar.gz and
 * unpacks events.ndjson and summary.json.
 */
import { untarGz } from '../support/tar.ts';
import { createServer, type Server } from 'node:http';
import type { NodeSummary, TraceEvent } from '../../contracts/index.ts';

export interface ReceivedResult {
  traceId: string;
  node: string;
  token: string;
  events: TraceEvent[];
  summary?: NodeSummary;
}

export class UploadReceiver {
  readonly results: ReceivedResult[] = [];
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const m = /^\/v1\/traces\/([^/]+)\/nodes\/([^/]+)\/result$/.exec(req.url ?? '');
      if (req.method !== 'PUT' || !m) {
        res.writeHead(404).end();
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          try {
            const files = await untarGz(Buffer.concat(chunks));
            const events = (files.get('events.ndjson')?.toString() ?? '').split('\n').filter(Boolean).map((l) => JSON.parse(l) as TraceEvent);
            const summaryText = files.get('summary.json')?.toString();
            const result: ReceivedResult = {
              traceId: decodeURIComponent(m[1]!),
              node: decodeURIComponent(m[2]!),
              token: (req.headers.authorization ?? '').replace(/^Bearer /, ''),
              events,
            };
            if (summaryText) result.summary = JSON.parse(summaryText) as NodeSummary;
            this.results.push(result);
            res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
          } catch (err) {
            res.writeHead(400).end((err as Error).message);
          }
        })();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  forNode(traceId: string, node: string): ReceivedResult | undefined {
    return this.results.find((r) => r.traceId === traceId && r.node === node);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
