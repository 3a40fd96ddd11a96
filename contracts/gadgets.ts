/** The gadget catalogue: names only. Each gadget's params schema, decoder and
 * event fields live in its own folder under bpf/gadgets/<name>/. */
export const GADGET_NAMES = ['exec', 'open', 'bind', 'tcpconnect', 'signal', 'oomkill', 'profile', 'tcpretrans', 'mount', 'tcpdrop', 'blockio', 'dns'] as const;
export type GadgetName = (typeof GADGET_NAMES)[number];

export function isGadgetName(value: unknown): value is GadgetName {
  return typeof value === 'string' && (GADGET_NAMES as readonly string[]).includes(value);
}
