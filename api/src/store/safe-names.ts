/** Ids and node names that may become path components: nothing that could leave the store's directory. */
const TRACE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NODE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,252}$/;

export function assertTraceId(id: string): string {
  if (!TRACE_ID.test(id)) throw new RangeError(`not a trace id: ${JSON.stringify(id)}`);
  return id;
}

export function assertNodeName(node: string): string {
  if (!NODE_NAME.test(node)) throw new RangeError(`not a node name: ${JSON.stringify(node)}`);
  return node;
}
