'use strict';
// bpf-native loader: tracejob's thin N-API addon over libbpf (see index.d.ts).
const path = require('node:path');

let binding;
try {
  binding = require(path.join(__dirname, 'build', 'Release', 'bpf_native.node'));
} catch (err) {
  const e = new Error(
    `bpf-native is not built (${err.message}); run: npm run build:native (node-gyp rebuild --nodedir=/usr in bpf/native)`,
  );
  e.code = 'ERR_BPF_NATIVE_NOT_BUILT';
  e.cause = err;
  throw e;
}

exports.BpfObject = binding.BpfObject;
exports.RingBufferReader = binding.RingBufferReader;
exports.possibleCpus = binding.possibleCpus;
exports.clocks = binding.clocks;
exports.openFdCount = binding.openFdCount;
