/**
 * Where uploaded node results live. One implementation today: the filesystem under DATA_DIR
 * (fs-result-store.ts). Bundles and event pages are read from here as streams.
 */
import type { Readable } from 'node:stream';
import type { NodeSummary } from '../../../contracts/index.ts';

export interface StoredUpload {
  summary: NodeSummary;
  /** Bytes of the upload as received (compressed). */
  bytes: number;
  /** Bytes of events.ndjson. */
  eventsBytes: number;
}

export interface ResultStore {
  /** Stores one node's uploaded tar.gz (replacing an earlier upload of the same node). */
  saveNodeUpload(traceId: string, node: string, body: Readable, maxBytes: number): Promise<StoredUpload>;
  /** Nodes with a stored result, sorted. */
  nodes(traceId: string): Promise<string[]>;
  readSummary(traceId: string, node: string): Promise<NodeSummary | undefined>;
  /** Size of the node's events.ndjson, or undefined when there is none. */
  eventsSize(traceId: string, node: string): Promise<number | undefined>;
  /** events.ndjson of a node from byte `start`. */
  eventsStream(traceId: string, node: string, start?: number): Readable;
  deleteTrace(traceId: string): Promise<void>;
  /** Trace ids that have stored results. */
  traceIds(): Promise<string[]>;
}
