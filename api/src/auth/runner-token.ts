/** The runner routes (result upload, progress) authenticate with the node's upload token, not a user's. */
import { verifyUploadToken } from '../../../state/src/upload-token.ts';
import { ForbiddenError, UnauthorizedError } from '../errors.ts';

/** Throws 401 without a bearer token, 403 unless it is the upload token of this trace and node. */
export function requireRunnerToken(authorization: string | undefined, secret: string, traceId: string, node: string): void {
  const token = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length).trim() : undefined;
  if (!token) throw new UnauthorizedError('a runner route needs Authorization: Bearer <upload token>');
  const check = verifyUploadToken(secret, token, traceId, node);
  if (!check.ok) throw new ForbiddenError(`upload token refused (${check.reason}): it is good only for its own trace and node, until it expires`);
}
