/** The `profile` gadget's section of a summary (node or merged): CPU samples and where they went. */

export interface FunctionSamples {
  /** A frame as in the folded stacks: `func`, `module+0xoffset` when unresolved, kernel frames end in `_[k]`. */
  frame: string;
  samples: number;
}

export interface ContainerProfile {
  cgroupId?: number;
  namespace?: string;
  pod?: string;
  container?: string;
  samples: number;
  /** Functions with the most samples as the leaf frame (on CPU themselves). */
  topSelf: FunctionSamples[];
  /** Functions with the most samples anywhere on the stack (themselves or what they called). */
  topTotal: FunctionSamples[];
}

export interface ProfileSummary {
  frequencyHz?: number;
  /** Samples counted (all processes of the targets). */
  samples: number;
  /** Distinct (thread, stacks) entries, i.e. lines of events.ndjson. */
  stacks: number;
  topSelf: FunctionSamples[];
  topTotal: FunctionSamples[];
  perContainer: ContainerProfile[];
}
