// Module entry: the classes and the small process-level functions.
#include <bpf/libbpf.h>
#include <dirent.h>
#include <napi.h>
#include <time.h>

#include <cerrno>

#include "addon_data.h"
#include "bpf_error.h"
#include "bpf_object_wrap.h"
#include "libbpf_log.h"
#include "ring_buffer_reader.h"
#include "ring_buffer_spool.h"

static Napi::Value PossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowBpfError(info.Env(), -n, "libbpf_num_possible_cpus", BpfErrorContext{});
  return Napi::Number::New(info.Env(), n);
}

static Napi::Value Clocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct timespec boot, real;
  clock_gettime(CLOCK_BOOTTIME, &boot);
  clock_gettime(CLOCK_REALTIME, &real);
  auto ns = [](const struct timespec& t) -> uint64_t {
    return static_cast<uint64_t>(static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec));
  };
  Napi::Object o = Napi::Object::New(env);
  o.Set("boottime", Napi::BigInt::New(env, ns(boot)));
  o.Set("realtime", Napi::BigInt::New(env, ns(real)));
  return o;
}

static Napi::Value OpenFdCount(const Napi::CallbackInfo& info) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) ThrowBpfError(info.Env(), errno, "opendir", BpfErrorContext{}, "cannot list /proc/self/fd");
  int self_fd = dirfd(d);
  int count = 0;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (atoi(e->d_name) == self_fd) continue;
    count++;
  }
  closedir(d);
  return Napi::Number::New(info.Env(), count);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfLog();
  libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
  AddonData* data = new AddonData();
  Napi::Function bpf_object = BpfObjectWrap::Define(env);
  Napi::Function reader = RingBufferReader::Define(env);
  data->bpf_object_ctor = Napi::Persistent(bpf_object);
  Napi::Function spool = RingBufferSpool::Define(env);
  data->ring_buffer_reader_ctor = Napi::Persistent(reader);
  data->ring_buffer_spool_ctor = Napi::Persistent(spool);
  env.SetInstanceData<AddonData>(data);
  exports.Set("BpfObject", bpf_object);
  exports.Set("RingBufferReader", reader);
  exports.Set("RingBufferSpool", spool);
  exports.Set("possibleCpus", Napi::Function::New(env, PossibleCpus, "possibleCpus"));
  exports.Set("clocks", Napi::Function::New(env, Clocks, "clocks"));
  exports.Set("openFdCount", Napi::Function::New(env, OpenFdCount, "openFdCount"));
  return exports;
}

NODE_API_MODULE(bpf_native, Init)
