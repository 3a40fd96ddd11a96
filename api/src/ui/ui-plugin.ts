/**
 * The web page at /ui: plain HTML, CSS and JavaScript modules from ./static (no build step),
 * read once at start-up and served from memory. Only the listed files are served.
 * The page calls the API from the browser (/v1/...), with a token the user pastes in when the
 * server requires one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export const UI_STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

/** The page's files by name. */
export function loadUiFiles(dir = UI_STATIC_DIR): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) files.set(name, { type, body: readFileSync(join(dir, name)) });
  }
  return files;
}

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export default async function tracejobUi(app: FastifyInstance, opts: { dir?: string } = {}): Promise<void> {
  const files = loadUiFiles(opts.dir);
  app.get('/ui', { schema: { hide: true } }, (_req, reply) => reply.redirect('/ui/', 302));
  app.get<{ Params: { file?: string } }>('/ui/:file', { schema: { hide: true } }, async (req, reply) => {
    const name = req.params.file || 'index.html';
    const file = files.get(name);
    if (!file) return reply.code(404).type('application/json').send({ error: 'not_found', message: `no page ${name}` });
    return reply
      .type(file.type)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', CSP)
      .header('referrer-policy', 'no-referrer')
      .send(file.body);
  });
}
