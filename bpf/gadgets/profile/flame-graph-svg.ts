/**
 * A self-contained flame graph (SVG, no script, no external reference) of folded stacks: the root
 * at the bottom, each frame as wide as its samples, a tooltip (<title>) with the frame, its samples
 * and share. Kernel frames (`_[k]`) are orange, unresolved ones (`module+0x…`) grey, the rest warm
 * colours chosen from the name (the same function has the same colour in every graph).
 */

interface FrameNode {
  name: string;
  value: number;
  children: Map<string, FrameNode>;
}

export interface FlameGraphOptions {
  title?: string;
  width?: number;
  /** Frames narrower than this many pixels are left out (with their children). */
  minWidthPx?: number;
}

const FRAME_HEIGHT = 16;
const FONT_SIZE = 11;
const CHAR_WIDTH = FONT_SIZE * 0.59;
const TOP_MARGIN = 40;
const BOTTOM_MARGIN = 10;
/** Frames past this depth are left out (a real stack has at most 127 user + 127 kernel frames). */
const MAX_DEPTH = 512;

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i += 1) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function colour(name: string): string {
  const h = hash(name);
  if (name.endsWith('_[k]')) return `rgb(${230 + (h % 25)},${120 + ((h >> 8) % 60)},${30 + ((h >> 16) % 30)})`;
  if (/\+0x[0-9a-f]+$/.test(name) || name === '[unknown]') return `rgb(${170 + (h % 30)},${170 + (h % 30)},${170 + (h % 30)})`;
  return `rgb(${205 + (h % 50)},${80 + ((h >> 8) % 130)},${40 + ((h >> 16) % 50)})`;
}

/** Builds the frame tree of `stacks` (folded stack → samples). */
function buildTree(stacks: ReadonlyMap<string, number>): FrameNode {
  const root: FrameNode = { name: 'all', value: 0, children: new Map() };
  for (const [stack, samples] of stacks) {
    if (!(samples > 0)) continue;
    root.value += samples;
    let node = root;
    for (const frame of stack.split(';', MAX_DEPTH)) {
      let child = node.children.get(frame);
      if (!child) node.children.set(frame, (child = { name: frame, value: 0, children: new Map() }));
      child.value += samples;
      node = child;
    }
  }
  return root;
}

function depthOf(node: FrameNode): number {
  let d = 0;
  for (const c of node.children.values()) d = Math.max(d, depthOf(c));
  return d + 1;
}

/** The SVG document of the flame graph of `stacks` (folded stack → samples). */
export function flameGraphSvg(stacks: ReadonlyMap<string, number>, options: FlameGraphOptions = {}): string {
  const width = options.width ?? 1200;
  const minWidth = options.minWidthPx ?? 0.3;
  const root = buildTree(stacks);
  const depth = depthOf(root);
  const height = TOP_MARGIN + depth * FRAME_HEIGHT + BOTTOM_MARGIN;
  const total = root.value;
  const scale = total > 0 ? (width - 20) / total : 0;
  const parts: string[] = [];
  const title = options.title ?? 'Flame graph';
  parts.push(
    `<?xml version="1.0" standalone="no"?>\n`,
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Verdana, sans-serif" font-size="${FONT_SIZE}">\n`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#f8f8f8"/>\n`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15">${escapeXml(title)}</text>\n`,
    `<text x="10" y="34" font-size="10" fill="#555">${total} samples; hover a frame for its samples</text>\n`,
  );
  if (total === 0) parts.push(`<text x="${width / 2}" y="${TOP_MARGIN + 12}" text-anchor="middle">no samples</text>\n`);

  const draw = (node: FrameNode, x: number, level: number): void => {
    const w = node.value * scale;
    if (w < minWidth) return;
    const y = height - BOTTOM_MARGIN - (level + 1) * FRAME_HEIGHT;
    const share = ((100 * node.value) / total).toFixed(2);
    const label = `${node.name} (${node.value} samples, ${share}%)`;
    parts.push(`<g><title>${escapeXml(label)}</title><rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${FRAME_HEIGHT - 1}" rx="2" fill="${node === root ? 'rgb(220,220,220)' : colour(node.name)}"/>`);
    const chars = Math.floor((w - 6) / CHAR_WIDTH);
    if (chars >= 3) {
      const text = node.name.length <= chars ? node.name : `${node.name.slice(0, chars - 2)}..`;
      parts.push(`<text x="${(x + 3).toFixed(2)}" y="${y + FRAME_HEIGHT - 4}">${escapeXml(text)}</text>`);
    }
    parts.push('</g>\n');
    let cx = x;
    const children = [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const c of children) {
      draw(c, cx, level + 1);
      cx += c.value * scale;
    }
  };
  if (total > 0) draw(root, 10, 0);
  parts.push('</svg>\n');
  return parts.join('');
}
