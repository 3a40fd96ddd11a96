/** Prometheus metrics, all named tracejob_*. One registry per process (API, scheduler, or both in all-in-one). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TraceStatus } from '../../contracts/index.ts';

export class TracejobMetrics {
  readonly registry = new Registry();
  readonly traces: Counter<'status'>;
  readonly queueDepth: Gauge;
  readonly traceDuration: Histogram<'status'>;
  readonly events: Counter;
  readonly lostEvents: Counter;
  readonly uploadBytes: Counter;
  readonly uploads: Counter<'outcome'>;

  constructor(queueDepth?: () => Promise<number>) {
    collectDefaultMetrics({ register: this.registry, prefix: 'tracejob_process_' });
    this.traces = new Counter({
      name: 'tracejob_traces_total',
      help: 'Traces by status reached (queued on creation; succeeded/partial/failed/cancelled when they end)',
      labelNames: ['status'],
      registers: [this.registry],
    });
    this.queueDepth = new Gauge({
      name: 'tracejob_queue_depth',
      help: 'Traces waiting in the queue',
      registers: [this.registry],
      async collect() {
        if (queueDepth) this.set(await queueDepth().catch(() => NaN));
      },
    });
    this.traceDuration = new Histogram({
      name: 'tracejob_trace_duration_seconds',
      help: 'Time from a trace starting to it ending, by final status',
      labelNames: ['status'],
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [this.registry],
    });
    this.events = new Counter({ name: 'tracejob_events_total', help: 'Events received in uploaded node results', registers: [this.registry] });
    this.lostEvents = new Counter({ name: 'tracejob_lost_events_total', help: 'Events the kernel could not deliver, as runners reported', registers: [this.registry] });
    this.uploadBytes = new Counter({ name: 'tracejob_upload_bytes_total', help: 'Bytes of node results uploaded', registers: [this.registry] });
    this.uploads = new Counter({ name: 'tracejob_uploads_total', help: 'Node result uploads by outcome', labelNames: ['outcome'], registers: [this.registry] });
  }

  traceFinished(status: TraceStatus, seconds: number | undefined): void {
    this.traces.inc({ status });
    if (seconds !== undefined && Number.isFinite(seconds)) this.traceDuration.observe({ status }, seconds);
  }
}
