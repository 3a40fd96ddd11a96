/**
 * Errors about a trace's target that both sides throw and the API maps to HTTP (api/src/errors.ts):
 * the scheduler's target resolution throws them, the API's synchronous target check passes them on.
 */
/** Nothing matches the target: the API answers 422 with this message. */
export class NoMatchingTargetError extends Error {
  override readonly name = 'NoMatchingTargetError';
}

/** The target is malformed in a way only the backend can tell (e.g. a label selector the apiserver refuses): 400 naming `field`. */
export class InvalidTargetError extends Error {
  override readonly name = 'InvalidTargetError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}
