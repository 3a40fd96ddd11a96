/**
 * The web page at /ui: plain HTML, CSS and JavaScript modules from ./static (no build step),
 * read once at start-up and served from memory. Only the listed files are served.
 * The page calls the API from the browser (/v1/...), with a token the user pastes in when the
 * server requires one. /ui/vendor/ serves the kept libraries of the flame graph (d3 and
 * d3-flame-graph) from node_modules; d3-flame-graph adds its stylesheet as a <style> element,
 * which the CSP allows by that stylesheet's hash only.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

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

/** Vendor files served at /ui/vendor/<name>, from node_modules. */
const VENDOR_FILES: Record<string, string> = {
  'd3.min.js': 'd3/dist/d3.min.js',
  'd3-flamegraph.js': 'd3-flame-graph/dist/d3-flamegraph.umd.js',
};

export interface VendorFiles {
  files: Map<string, { type: string; body: Buffer }>;
  /** CSP hashes of the <style> texts the vendor scripts insert. */
  styleHashes: string[];
}

/** The nearest node_modules above this module (source, dist/ and the image alike), or undefined. */
function nearestNodeModules(start = import.meta.dirname): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) return join(dir, 'node_modules');
    if (dirname(dir) === dir) return undefined;
  }
}

/** The vendor files that are installed (a missing one is left out: the page says the flame graph is unavailable). */
export function loadVendorFiles(nodeModules = nearestNodeModules()): VendorFiles {
  const files = new Map<string, { type: string; body: Buffer }>();
  const styleHashes: string[] = [];
  for (const [name, rel] of Object.entries(VENDOR_FILES)) {
    if (!nodeModules) break;
    const path = join(nodeModules, rel);
    if (!existsSync(path)) continue;
    const body = readFileSync(path);
    files.set(name, { type: TYPES['.js']!, body });
    for (const m of body.toString('utf8').matchAll(/__vite_style__\.textContent = ("(?:[^"\\]|\\.)*");/g)) {
      styleHashes.push(`'sha256-${createHash('sha256').update(JSON.parse(m[1]!) as string).digest('base64')}'`);
    }
  }
  return { files, styleHashes };
}

function csp(styleHashes: readonly string[]): string {
  const style = ["'self'", ...styleHashes].join(' ');
  return `default-src 'self'; script-src 'self'; style-src ${style}; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'`;
}

export default async function tracejobUi(app: FastifyInstance, opts: { dir?: string } = {}): Promise<void> {
  const files = loadUiFiles(opts.dir);
  const vendor = loadVendorFiles();
  const policy = csp(vendor.styleHashes);
  const send = (reply: FastifyReply, file: { type: string; body: Buffer } | undefined, name: string) => {
    if (!file) return reply.code(404).type('application/json').send({ error: 'not_found', message: `no page ${name}` });
    return reply
      .type(file.type)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', policy)
      .header('referrer-policy', 'no-referrer')
      .send(file.body);
  };
  app.get('/ui', { schema: { hide: true } }, (_req, reply) => reply.redirect('/ui/', 302));
  app.get<{ Params: { file?: string } }>('/ui/:file', { schema: { hide: true } }, async (req, reply) => {
    const name = req.params.file || 'index.html';
    return send(reply, files.get(name), name);
  });
  app.get<{ Params: { file: string } }>('/ui/vendor/:file', { schema: { hide: true } }, async (req, reply) => {
    return send(reply, vendor.files.get(req.params.file), `vendor/${req.params.file}`);
  });
}
