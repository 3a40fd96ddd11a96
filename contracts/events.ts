/** Fields every decoded gadget event carries (before enrichment by the runner). */
export interface BaseEvent {
  /**
   * Wall-clock time of the event: nanoseconds since the Unix epoch as a decimal string, exact (a
   * JSON number holds only ~16 digits, i.e. steps of 256 ns today). It has 19 digits for any time
   * from 2001-09-09 to 2286-11-20, so comparing the strings orders events in time. See docs/events.md.
   */
  timestamp: string;
  pid: number;
  tid: number;
  /** Parent pid where the gadget knows it. */
  ppid?: number;
  uid: number;
  comm: string;
  /** cgroup v2 id (the cgroup directory's inode number) of the task. */
  cgroupId: number;
}

/** Fields the runner adds to each event when it writes it out. */
export interface EventAttribution {
  node: string;
  namespace?: string;
  pod?: string;
  container?: string;
}

/** One line of events.ndjson: a decoded gadget event plus its attribution. */
export type TraceEvent = BaseEvent & EventAttribution & { gadget: string } & Record<string, unknown>;
