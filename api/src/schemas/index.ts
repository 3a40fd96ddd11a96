/**
 * The one source of truth for request and response shapes: these TypeBox schemas validate
 * requests, type the handlers and produce the OpenAPI document served at /docs.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { GADGET_NAMES, NODE_STATUSES, TRACE_STATUSES, type GadgetName, type TraceStatus } from '../../../contracts/index.ts';

export interface SchemaLimits {
  maxDurationSeconds: number;
  defaultDurationSeconds: number;
  maxEventsPerNode: number;
}

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$';
export const NODE_NAME_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,252}$';
export const TRACE_ID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
/** A container id with an optional runtime prefix (`containerd://…`). */
const CONTAINER_ID = '^([a-z-]+://)?[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$';
/** A cgroup path: no `..` segment, no odd characters. */
const CGROUP_PATH = '^(?!.*(^|/)\\.\\.(/|$))[A-Za-z0-9_./:@+-]+$';

const gadgetName = Type.Unsafe<GadgetName>({ type: 'string', enum: [...GADGET_NAMES], description: 'a gadget of the catalogue (GET /v1/gadgets)' });
const traceStatus = Type.Unsafe<TraceStatus>({ type: 'string', enum: [...TRACE_STATUSES] });

export const TraceTargetSchema = Type.Object(
  {
    namespace: Type.Optional(Type.String({ pattern: DNS_LABEL, maxLength: 63, description: 'Kubernetes namespace (required on the kubernetes backend)' })),
    labelSelector: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z0-9./_=!,() -]+$', description: 'Kubernetes label selector, e.g. app=web' })),
    podName: Type.Optional(Type.String({ pattern: DNS_SUBDOMAIN, maxLength: 253 })),
    containerName: Type.Optional(Type.String({ pattern: DNS_LABEL, maxLength: 63 })),
    nodeName: Type.Optional(Type.String({ pattern: NODE_NAME_PATTERN })),
    containerIds: Type.Optional(Type.Array(Type.String({ pattern: CONTAINER_ID }), { minItems: 1, maxItems: 256, description: 'local backend: container ids' })),
    pids: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 4_194_304 }), { minItems: 1, maxItems: 256, description: 'local backend: process ids (their cgroups are traced)' })),
    cgroupPaths: Type.Optional(
      Type.Array(Type.String({ pattern: CGROUP_PATH, minLength: 1, maxLength: 4096 }), {
        minItems: 1,
        maxItems: 256,
        description: 'local backend: cgroup v2 directories, absolute or relative to the cgroup v2 mount',
      }),
    ),
    startup: Type.Optional(
      Type.Boolean({
        description: 'wait for the next start of a container of the target pods (local: of a process in a new cgroup below cgroupPaths) and trace it from its first instruction',
      }),
    ),
    startupTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400, description: 'with startup: how long to wait for the start (default 300)' })),
  },
  { additionalProperties: false },
);

export function traceRequestSchema(limits: SchemaLimits) {
  return Type.Object(
    {
      gadget: gadgetName,
      durationSeconds: Type.Optional(
        Type.Integer({ minimum: 1, maximum: limits.maxDurationSeconds, description: `seconds to trace (default ${limits.defaultDurationSeconds})` }),
      ),
      target: TraceTargetSchema,
      params: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'per-gadget options (GET /v1/gadgets)' })),
      limits: Type.Optional(
        Type.Object({ maxEvents: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.maxEventsPerNode, description: 'events per node' })) }, { additionalProperties: false }),
      ),
      callbackUrl: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048 })),
    },
    { additionalProperties: false },
  );
}
export type TraceRequest = Static<ReturnType<typeof traceRequestSchema>>;

export const IdempotencyHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' })),
});

export const ErrorSchema = Type.Object(
  { error: Type.String(), message: Type.String(), field: Type.Optional(Type.String()) },
  { description: 'every error response' },
);

export const LinksSchema = Type.Object({ self: Type.String(), events: Type.String(), bundle: Type.String() });

export const NodeStateSchema = Type.Object({
  node: Type.String(),
  status: Type.Unsafe<(typeof NODE_STATUSES)[number]>({ type: 'string', enum: [...NODE_STATUSES] }),
  events: Type.Integer(),
  lostEvents: Type.Integer(),
  truncated: Type.Optional(Type.Boolean()),
  stopReason: Type.Optional(Type.String()),
  error: Type.Optional(Type.String()),
  startedAt: Type.Optional(Type.String()),
  tracingSince: Type.Optional(Type.String({ description: 'when the gadget was attached and filtering on this node' })),
  progressAt: Type.Optional(Type.String({ description: "when the node's runner last reported its live counts" })),
  finishedAt: Type.Optional(Type.String()),
  uploaded: Type.Optional(Type.Boolean()),
});

/** What started a trace that no one asked for directly: an alert, or a schedule's run. */
export const TraceTriggerSchema = Type.Union([
  Type.Object({
    kind: Type.Literal('alert'),
    rule: Type.String(),
    fingerprint: Type.String(),
    alertname: Type.Optional(Type.String()),
    labels: Type.Record(Type.String(), Type.String()),
    startsAt: Type.Optional(Type.String()),
    generatorURL: Type.Optional(Type.String()),
  }),
  Type.Object({ kind: Type.Literal('schedule'), scheduleId: Type.String(), dueAt: Type.Optional(Type.String()) }),
]);

export const TraceViewSchema = Type.Object({
  id: Type.String(),
  status: traceStatus,
  gadget: gadgetName,
  durationSeconds: Type.Integer(),
  target: TraceTargetSchema,
  params: Type.Record(Type.String(), Type.Unknown()),
  limits: Type.Object({ maxEvents: Type.Integer() }),
  callbackUrl: Type.Optional(Type.String()),
  trigger: Type.Optional(TraceTriggerSchema),
  createdAt: Type.String(),
  startedAt: Type.Optional(Type.String()),
  finishedAt: Type.Optional(Type.String()),
  cancelRequested: Type.Optional(Type.Boolean()),
  error: Type.Optional(Type.String()),
  nodes: Type.Array(NodeStateSchema),
  counts: Type.Object({ events: Type.Integer(), lostEvents: Type.Integer() }),
  tracing: Type.Object(
    { nodes: Type.Integer(), of: Type.Integer() },
    { description: 'how many of the trace\'s nodes are tracing (gadget attached) or have traced' },
  ),
  links: LinksSchema,
});

export const TraceAcceptedSchema = Type.Object({ id: Type.String(), status: traceStatus, links: LinksSchema });

export const TraceIdParamsSchema = Type.Object({ id: Type.String({ pattern: TRACE_ID_PATTERN }) });
export const NodeResultParamsSchema = Type.Object({ id: Type.String({ pattern: TRACE_ID_PATTERN }), node: Type.String({ pattern: NODE_NAME_PATTERN }) });

export const TraceListQuerySchema = Type.Object(
  {
    status: Type.Optional(traceStatus),
    gadget: Type.Optional(gadgetName),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: false },
);

export const TraceListSchema = Type.Object({ items: Type.Array(TraceViewSchema), nextCursor: Type.Optional(Type.String()) });

const filterProperties = {
  node: Type.Optional(Type.String({ pattern: NODE_NAME_PATTERN })),
  pod: Type.Optional(Type.String({ maxLength: 253 })),
  container: Type.Optional(Type.String({ maxLength: 253 })),
  comm: Type.Optional(Type.String({ maxLength: 64 })),
  since: Type.Optional(Type.String({ maxLength: 64, description: 'From this time (inclusive): ns since the epoch, or ISO 8601.' })),
  until: Type.Optional(Type.String({ maxLength: 64, description: 'Before this time (exclusive): ns since the epoch, or ISO 8601.' })),
};
/** Any other name: equality on that field of the gadget's events (checked against the gadget's fields). */
const fieldEquality = Type.String({ maxLength: 4096 });

export const EventsQuerySchema = Type.Object(
  {
    ...filterProperties,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    cursor: Type.Optional(Type.String({ maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: fieldEquality },
);

export const EventsPageSchema = Type.Object({
  items: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  nextCursor: Type.Optional(Type.String()),
});

export const TopQuerySchema = Type.Object(
  {
    field: Type.String({ minLength: 1, maxLength: 128, description: "The field to count: any field of the gadget's events." }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 10 })),
    ...filterProperties,
  },
  { additionalProperties: fieldEquality },
);

export const TopAnswerSchema = Type.Object({
  field: Type.String(),
  items: Type.Array(Type.Object({ value: Type.Unknown(), count: Type.Integer() })),
});

export const GadgetListSchema = Type.Object({
  items: Type.Array(
    Type.Object({
      name: Type.String(),
      description: Type.String(),
      params: Type.Unknown(),
      fields: Type.Array(Type.Object({ name: Type.String(), type: Type.String(), description: Type.Optional(Type.String()) })),
      topFields: Type.Array(Type.String()),
    }),
  ),
});

export const NodeProgressSchema = Type.Object(
  {
    tracingSince: Type.String({ format: 'date-time', maxLength: 64 }),
    events: Type.Integer({ minimum: 0 }),
    lostEvents: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const NodeProgressAnswerSchema = Type.Object({ cancelRequested: Type.Boolean() });

export const UploadAcceptedSchema = Type.Object({ traceId: Type.String(), node: Type.String(), events: Type.Integer(), bytes: Type.Integer() });

export const CancelAnswerSchema = Type.Object({ id: Type.String(), status: traceStatus, cancelRequested: Type.Boolean() });

/** Error responses a route documents, all with the Error shape. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorSchema]));
}

export const ProfileQuerySchema = Type.Object(
  {
    node: Type.Optional(Type.String({ pattern: NODE_NAME_PATTERN })),
    pod: Type.Optional(Type.String({ maxLength: 253 })),
    container: Type.Optional(Type.String({ maxLength: 253 })),
    format: Type.Optional(
      Type.Union([Type.Literal('folded'), Type.Literal('json'), Type.Literal('svg')], {
        description: 'folded (default): text/plain `stack count` lines; json: the stacks and their summary; svg: a flame graph',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ProfileJsonSchema = Type.Object({
  traceId: Type.String(),
  samples: Type.Integer(),
  stacks: Type.Array(Type.Object({ stack: Type.String(), samples: Type.Integer() })),
  summary: Type.Record(Type.String(), Type.Unknown()),
});
