/**
 * Errors are types; `httpErrorOf` maps any thrown value to the one HTTP error shape
 * `{error, message, field?}` used by every response (the app's error handler, app.ts).
 */

/**
 * Every `error` code the API answers with, and its HTTP status. The README's "Errors" table lists
 * the same (errors.test.ts checks both ways).
 */
export const ERROR_CODES = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  unprocessable: 422,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export abstract class ApiError extends Error {
  abstract readonly status: number;
  abstract readonly code: ErrorCode;
  readonly field?: string;
  constructor(message: string, field?: string) {
    super(message);
    if (field !== undefined) this.field = field;
  }
}

/** 400: the request is malformed; `field` names the offending property (dotted path). */
export class InvalidError extends ApiError {
  readonly status = 400;
  readonly code = 'invalid';
  override readonly name = 'InvalidError';
  constructor(field: string, message: string) {
    super(message, field);
  }
}

export class UnauthorizedError extends ApiError {
  readonly status = 401;
  readonly code = 'unauthorized';
  override readonly name = 'UnauthorizedError';
}

export class ForbiddenError extends ApiError {
  readonly status = 403;
  readonly code = 'forbidden';
  override readonly name = 'ForbiddenError';
}

export class NotFoundError extends ApiError {
  readonly status = 404;
  readonly code = 'not_found';
  override readonly name = 'NotFoundError';
}

export class ConflictError extends ApiError {
  readonly status = 409;
  readonly code = 'conflict';
  override readonly name = 'ConflictError';
}

export class PayloadTooLargeError extends ApiError {
  readonly status = 413;
  readonly code = 'payload_too_large';
  override readonly name = 'PayloadTooLargeError';
}

/** 422: well-formed but cannot be done (e.g. the target matches nothing). */
/** 416: a Range that starts past the end of the download; the answer's Content-Range gives the size. */
export class RangeNotSatisfiableError extends ApiError {
  readonly status = 416;
  readonly code = 'range_not_satisfiable';
  override readonly name = 'RangeNotSatisfiableError';
  constructor(
    message: string,
    readonly size: number,
  ) {
    super(message, 'Range');
  }
}

export class UnprocessableError extends ApiError {
  readonly status = 422;
  readonly code = 'unprocessable';
  override readonly name = 'UnprocessableError';
}

export class RateLimitedError extends ApiError {
  readonly status = 429;
  readonly code = 'rate_limited';
  override readonly name = 'RateLimitedError';
  constructor(
    message: string,
    readonly retryAfterSeconds = 1,
  ) {
    super(message);
  }
}

export class UnavailableError extends ApiError {
  readonly status = 503;
  readonly code = 'unavailable';
  override readonly name: string = 'UnavailableError';
  constructor(
    message: string,
    /** Sent as Retry-After when set. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** 503: the result store (object store) cannot be reached or does not answer in time; retry later. */
export class ResultStoreUnavailableError extends UnavailableError {
  override readonly name = 'ResultStoreUnavailableError';
  constructor(message: string, retryAfterSeconds = 5) {
    super(message, retryAfterSeconds);
  }
}

export interface HttpErrorBody {
  error: ErrorCode;
  message: string;
  field?: string;
}

interface AjvLikeError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Dotted field path of one ajv error: `/target/namespace` → `target.namespace`; required/additional name the property. */
export function fieldOfValidationError(err: AjvLikeError, part?: string): string {
  const segments = (err.instancePath ?? '')
    .split('/')
    .filter(Boolean)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const missing = err.params?.missingProperty;
  const extra = err.params?.additionalProperty;
  if (typeof missing === 'string') segments.push(missing);
  else if (typeof extra === 'string') segments.push(extra);
  if (segments.length === 0) return part === 'body' || part === undefined ? 'body' : part;
  return segments.join('.');
}

function validationMessage(field: string, err: AjvLikeError): string {
  if (err.keyword === 'additionalProperties') return `${field}: unknown field`;
  if (err.keyword === 'required') return `${field}: required`;
  if (err.keyword === 'enum' && Array.isArray(err.params?.allowedValues)) {
    return `${field}: must be one of ${(err.params.allowedValues as unknown[]).join(', ')}`;
  }
  return `${field}: ${err.message ?? 'invalid'}`;
}

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
  validation?: AjvLikeError[];
  validationContext?: string;
}

const REDIS_DOWN = /ECONNREFUSED|Connection is closed|ETIMEDOUT|max retries per request|Stream isn't writeable|enableOfflineQueue/i;

/** Maps anything thrown in a handler to the HTTP status and body clients see. */
export function httpErrorOf(thrown: unknown): { status: number; body: HttpErrorBody; retryAfter?: number; contentRange?: string } {
  if (thrown instanceof ApiError) {
    const body: HttpErrorBody = { error: thrown.code, message: thrown.message };
    if (thrown.field !== undefined) body.field = thrown.field;
    const out: { status: number; body: HttpErrorBody; retryAfter?: number; contentRange?: string } = { status: thrown.status, body };
    if (thrown instanceof RangeNotSatisfiableError) out.contentRange = `bytes */${thrown.size}`;
    if (thrown instanceof RateLimitedError) out.retryAfter = thrown.retryAfterSeconds;
    if (thrown instanceof UnavailableError && thrown.retryAfterSeconds !== undefined) out.retryAfter = thrown.retryAfterSeconds;
    return out;
  }
  const e = (thrown ?? {}) as FastifyLikeError;
  if (Array.isArray(e.validation) && e.validation.length > 0) {
    const first = e.validation[0]!;
    const field = fieldOfValidationError(first, e.validationContext);
    return { status: 400, body: { error: 'invalid', message: validationMessage(field, first), field } };
  }
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 415, body: { error: 'unsupported_media_type', message: e.message ?? 'unsupported content type' } };
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { status: 413, body: { error: 'payload_too_large', message: 'request body too large' } };
  }
  if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (e.statusCode === 400 && e.message)) {
    return { status: 400, body: { error: 'invalid', message: e.message ?? 'malformed body', field: 'body' } };
  }
  if (e.statusCode === 404) return { status: 404, body: { error: 'not_found', message: e.message ?? 'not found' } };
  if (typeof e.message === 'string' && REDIS_DOWN.test(e.message)) {
    return { status: 503, body: { error: 'unavailable', message: 'the queue (Redis) is unavailable; retry later' } };
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: { error: 'invalid', message: e.message ?? 'bad request' } };
  }
  return { status: 500, body: { error: 'internal', message: 'internal error' } };
}
