// bpf-native loader: tracejob's thin N-API addon over libbpf (types: index.d.ts).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const addonPath = new URL('./build/Release/bpf_native.node', import.meta.url).pathname;

let binding;
try {
  binding = require(addonPath);
} catch (err) {
  const e = new Error(
    `bpf-native is not built (${err.message}); run: npm run build:native (node-gyp rebuild --nodedir=/usr in bpf/native)`,
    { cause: err },
  );
  e.code = 'ERR_BPF_NATIVE_NOT_BUILT';
  throw e;
}

export const BpfObject = binding.BpfObject;
export const RingBufferReader = binding.RingBufferReader;
export const RingBufferSpool = binding.RingBufferSpool;
export const possibleCpus = binding.possibleCpus;
export const clocks = binding.clocks;
export const openFdCount = binding.openFdCount;
