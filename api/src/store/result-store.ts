/**
 * Where uploaded node results live: the filesystem under DATA_DIR (fs-result-store.ts, the
 * all-in-one default) or an S3-API object store (s3-result-store.ts, what replicas share).
 * Bundles and event pages are read from here as streams; queries from the columnar copy.
 */
import type { Readable } from 'node:stream';
import type { NodeSummary } from '../../../contracts/index.ts';
import type { ColumnarLayout } from './columnar-events.ts';
import type { ColumnarTarget } from './node-ingest.ts';

export interface StoredUpload {
  summary: NodeSummary;
  /** Bytes of the upload as received (compressed). */
  bytes: number;
  /** Bytes of events.ndjson. */
  eventsBytes: number;
}

/** One stored upload of a node's events.ndjson. */
export interface StoredEvents {
  /** Bytes of events.ndjson. */
  size: number;
  /** Names this upload (a re-upload of the node has another): the strong HTTP entity tag, quoted. */
  etag: string;
  /** Bytes [start, end) of this upload; a re-upload since fails the read rather than mixing the two. */
  read(start?: number, end?: number): Readable;
}

/** A node's columnar copy on local disk, ready for the query engine, and the events it was made from. */
export interface LocalColumnar {
  dir: string;
  layout: ColumnarLayout;
  events: StoredEvents;
}

export interface ResultStore {
  /**
   * Stores one node's uploaded tar.gz (replacing an earlier upload of the same node), with a
   * columnar copy of its events when `columnar` says how. Readers see the old result or the new
   * one, never part of one.
   */
  saveNodeUpload(traceId: string, node: string, body: Readable, maxBytes: number, columnar?: ColumnarTarget): Promise<StoredUpload>;
  /** Nodes with a stored result, sorted. */
  nodes(traceId: string): Promise<string[]>;
  readSummary(traceId: string, node: string): Promise<NodeSummary | undefined>;
  /** Size of the node's events.ndjson, or undefined when there is none. */
  eventsSize(traceId: string, node: string): Promise<number | undefined>;
  /** events.ndjson of a node from byte `start`. */
  eventsStream(traceId: string, node: string, start?: number): Readable;
  /** The node's events.ndjson as stored, or undefined when it has none. */
  events(traceId: string, node: string): Promise<StoredEvents | undefined>;
  /** The node's columnar copy on local disk (fetched first from a remote store), or undefined when it has none. */
  columnar(traceId: string, node: string): Promise<LocalColumnar | undefined>;
  deleteTrace(traceId: string): Promise<void>;
  /** Trace ids that have stored results. */
  traceIds(): Promise<string[]>;
  /** Removes a trace's leftovers no reader can see (uploads cut mid-way); returns how many objects. */
  sweepUnreferenced?(traceId: string): Promise<number>;
  /** Releases connections. */
  close?(): void;
}
