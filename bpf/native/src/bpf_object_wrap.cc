#include "bpf_object_wrap.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/perf_event.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "addon_data.h"
#include "libbpf_log.h"
#include "ring_buffer_reader.h"
#include "ring_buffer_spool.h"

namespace {

bool IsPerCpu(enum bpf_map_type type) {
  switch (type) {
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
      return true;
    default:
      return false;
  }
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    ThrowArgError(info.Env(), op, std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Buffer<uint8_t> BufferArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* what) {
  if (info.Length() <= i || !info[i].IsBuffer())
    ThrowArgError(info.Env(), op, std::string(what) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

std::string WithLog(const std::string& detail) {
  std::string tail = LibbpfLogTail();
  if (tail.empty()) return detail;
  return detail + "\n" + tail;
}

}  // namespace

Napi::Function BpfObjectWrap::Define(Napi::Env env) {
  return DefineClass(env, "BpfObject",
                     {
                         StaticMethod<&BpfObjectWrap::Open>("open"),
                         InstanceAccessor<&BpfObjectWrap::GetPath>("path"),
                         InstanceAccessor<&BpfObjectWrap::GetClosed>("closed"),
                         InstanceMethod<&BpfObjectWrap::SetGlobal>("setGlobal"),
                         InstanceMethod<&BpfObjectWrap::SetMapMaxEntries>("setMapMaxEntries"),
                         InstanceMethod<&BpfObjectWrap::Load>("load"),
                         InstanceMethod<&BpfObjectWrap::Attach>("attach"),
                         InstanceMethod<&BpfObjectWrap::Detach>("detach"),
                         InstanceMethod<&BpfObjectWrap::AttachPerfEvent>("attachPerfEvent"),
                         InstanceMethod<&BpfObjectWrap::Maps>("maps"),
                         InstanceMethod<&BpfObjectWrap::MapUpdate>("mapUpdate"),
                         InstanceMethod<&BpfObjectWrap::MapLookup>("mapLookup"),
                         InstanceMethod<&BpfObjectWrap::MapDelete>("mapDelete"),
                         InstanceMethod<&BpfObjectWrap::MapEntries>("mapEntries"),
                         InstanceMethod<&BpfObjectWrap::OpenRingBuffer>("openRingBuffer"),
                         InstanceMethod<&BpfObjectWrap::SpoolRingBuffer>("spoolRingBuffer"),
                         InstanceMethod<&BpfObjectWrap::Close>("close"),
                     });
}

// new BpfObject(path): opens the file (BpfObject.open is the public entry point).
BpfObjectWrap::BpfObjectWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObjectWrap>(info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_object__open_file";
  path_ = StringArg(info, 0, op, "path");
  struct stat st;
  if (stat(path_.c_str(), &st) != 0) ThrowBpfError(env, errno, op, Ctx(), "cannot open '" + path_ + "': " + strerror(errno));
  if (!S_ISREG(st.st_mode)) ThrowBpfError(env, EINVAL, op, Ctx(), "'" + path_ + "' is not a regular file");
  ClearLibbpfLog();
  obj_ = bpf_object__open_file(path_.c_str(), nullptr);
  if (!obj_) {
    int err = errno;
    obj_ = nullptr;
    ThrowBpfError(env, err ? err : EINVAL, op, Ctx(), WithLog(std::string("cannot open '") + path_ + "' as a BPF object"));
  }
}

BpfObjectWrap::~BpfObjectWrap() {
  // GC finalizer: release fds of a forgotten object. Readers hold a strong
  // reference to their owner, so none can be open here except at env teardown.
  for (RingBufferReader* r : std::set<RingBufferReader*>(readers_)) r->Shutdown(true);
  readers_.clear();
  for (RingBufferSpool* s : std::set<RingBufferSpool*>(spools_)) s->Shutdown(true);
  spools_.clear();
  Release();
}

Napi::Value BpfObjectWrap::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) ThrowArgError(env, "bpf_object__open_file", "path must be a string");
  return GetAddonData(env)->bpf_object_ctor.New({info[0]});
}

BpfErrorContext BpfObjectWrap::Ctx(const std::string& map, const std::string& program) const {
  return BpfErrorContext{path_, map, program};
}

void BpfObjectWrap::RequireOpen(Napi::Env env, const char* op) const {
  if (closed_) ThrowBpfError(env, EBADF, op, Ctx(), "the object is closed");
}

void BpfObjectWrap::RequireLoaded(Napi::Env env, const char* op, const std::string& map) const {
  RequireOpen(env, op);
  if (!loaded_) ThrowBpfError(env, EINVAL, op, Ctx(map), "the object is not loaded (call load() first)");
}

bpf_map* BpfObjectWrap::FindMap(Napi::Env env, const char* op, const std::string& name) const {
  bpf_map* map = bpf_object__find_map_by_name(obj_, name.c_str());
  if (!map) {
    std::string names;
    bpf_map* m;
    bpf_object__for_each_map(m, obj_) {
      if (!names.empty()) names += ", ";
      names += bpf_map__name(m);
    }
    ThrowBpfError(env, ENOENT, op, Ctx(name), "no such map (maps: " + names + ")");
  }
  return map;
}

Napi::Value BpfObjectWrap::GetPath(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), path_); }

Napi::Value BpfObjectWrap::GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }

void BpfObjectWrap::SetGlobal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "setGlobal";
  std::string name = StringArg(info, 0, op, "name");
  Napi::Buffer<uint8_t> value = BufferArg(info, 1, op, "value");
  RequireOpen(env, op);
  if (loaded_) ThrowBpfError(env, EBUSY, op, Ctx(), "global '" + name + "' must be set before load()");

  const struct btf* btf = bpf_object__btf(obj_);
  if (!btf) ThrowBpfError(env, ENOENT, op, Ctx(), "the object has no BTF, cannot find global '" + name + "'");

  std::string known;
  __u32 n = btf__type_cnt(btf);
  for (__u32 id = 1; id < n; id++) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    if (!btf_is_datasec(t)) continue;
    std::string sec = btf__name_by_offset(btf, t->name_off);
    if (sec != ".rodata" && sec != ".data" && sec != ".bss" && sec.rfind(".rodata.", 0) != 0 &&
        sec.rfind(".data.", 0) != 0)
      continue;
    const struct btf_var_secinfo* vs = btf_var_secinfos(t);
    for (__u16 i = 0; i < btf_vlen(t); i++, vs++) {
      const struct btf_type* var = btf__type_by_id(btf, vs->type);
      std::string vname = btf__name_by_offset(btf, var->name_off);
      if (vname != name) {
        if (!known.empty()) known += ", ";
        known += vname;
        continue;
      }
      if (value.Length() != vs->size)
        ThrowBpfError(env, EINVAL, op, Ctx(),
                      "value for global '" + name + "' is " + std::to_string(value.Length()) +
                          " bytes, the variable is " + std::to_string(vs->size) + " bytes");
      bpf_map* map = nullptr;
      bpf_map* m;
      bpf_object__for_each_map(m, obj_) {
        if (bpf_map__is_internal(m) && EndsWith(bpf_map__name(m), sec)) {
          map = m;
          break;
        }
      }
      if (!map) ThrowBpfError(env, ENOENT, op, Ctx(), "no map for section '" + sec + "' holding global '" + name + "'");
      size_t size = 0;
      const void* initial = bpf_map__initial_value(map, &size);
      if (!initial || vs->offset + vs->size > size)
        ThrowBpfError(env, EINVAL, op, Ctx(bpf_map__name(map)),
                      "global '" + name + "' lies outside the initial value of section '" + sec + "'");
      std::vector<uint8_t> data(static_cast<const uint8_t*>(initial), static_cast<const uint8_t*>(initial) + size);
      memcpy(data.data() + vs->offset, value.Data(), vs->size);
      int err = bpf_map__set_initial_value(map, data.data(), data.size());
      if (err) ThrowBpfError(env, err, "bpf_map__set_initial_value", Ctx(bpf_map__name(map)));
      return;
    }
  }
  ThrowBpfError(env, ENOENT, op, Ctx(), "no global variable '" + name + "' (globals: " + (known.empty() ? "none" : known) + ")");
}

void BpfObjectWrap::SetMapMaxEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map__set_max_entries";
  std::string name = StringArg(info, 0, op, "map");
  if (info.Length() < 2 || !info[1].IsNumber()) ThrowArgError(env, op, "maxEntries must be a number");
  double v = info[1].As<Napi::Number>().DoubleValue();
  if (!(v >= 1 && v <= 0xffffffffu) || v != static_cast<double>(static_cast<uint32_t>(v)))
    ThrowBpfError(env, EINVAL, op, Ctx(name), "maxEntries must be an integer in 1..2^32-1, got " + info[1].ToString().Utf8Value());
  uint32_t max = static_cast<uint32_t>(v);
  RequireOpen(env, op);
  if (loaded_) ThrowBpfError(env, EBUSY, op, Ctx(name), "maps must be resized before load()");
  bpf_map* map = FindMap(env, op, name);
  if (bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF) {
    uint32_t page = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
    if ((max & (max - 1)) != 0 || max < page)
      ThrowBpfError(env, EINVAL, op, Ctx(name),
                    "a ring buffer's size must be a power of two and at least the page size (" + std::to_string(page) +
                        "), got " + std::to_string(max));
  }
  int err = bpf_map__set_max_entries(map, max);
  if (err) ThrowBpfError(env, err, op, Ctx(name));
}

void BpfObjectWrap::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_object__load";
  RequireOpen(env, op);
  if (loaded_) ThrowBpfError(env, EALREADY, op, Ctx(), "the object is already loaded");
  ClearLibbpfLog();
  int err = bpf_object__load(obj_);
  if (err) ThrowBpfError(env, err, op, Ctx(), WithLog(std::string("cannot load: ") + strerror(-err)));
  loaded_ = true;
}

void BpfObjectWrap::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach";
  RequireLoaded(env, op, "");
  if (!links_.empty()) ThrowBpfError(env, EALREADY, op, Ctx(), "the programs are already attached (detach() first)");
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    if (!bpf_program__autoattach(prog)) continue;
    // A perf-event program needs perf events to attach to: attachPerfEvent() opens them.
    if (bpf_program__type(prog) == BPF_PROG_TYPE_PERF_EVENT) continue;
    ClearLibbpfLog();
    bpf_link* link = bpf_program__attach(prog);
    if (!link) {
      int err = errno;
      std::string pname = bpf_program__name(prog);
      std::string sec = bpf_program__section_name(prog);
      DestroyLinks();
      ThrowBpfError(env, err ? err : EINVAL, op, Ctx("", pname),
                    WithLog("cannot attach program '" + pname + "' (SEC(\"" + sec + "\")): " + strerror(err ? err : EINVAL)));
    }
    links_.push_back(link);
  }
}

// attachPerfEvent(program, {frequencyHz}): one CPU-clock sampling event per CPU (every task
// on that CPU, a sample every 1/frequencyHz s of CPU clock), each with the program attached. The links own the perf-event fds: detach()
// and close() release them. Returns the number of CPUs attached (offline CPUs are skipped).
Napi::Value BpfObjectWrap::AttachPerfEvent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "perf_event_open";
  std::string pname = StringArg(info, 0, op, "program");
  if (info.Length() < 2 || !info[1].IsObject()) ThrowArgError(env, op, "options must be an object {frequencyHz}");
  Napi::Value hzv = info[1].As<Napi::Object>().Get("frequencyHz");
  if (!hzv.IsNumber()) ThrowArgError(env, op, "options.frequencyHz must be a number");
  double hz = hzv.As<Napi::Number>().DoubleValue();
  if (!(hz >= 1 && hz <= 100000) || hz != static_cast<double>(static_cast<uint64_t>(hz)))
    ThrowBpfError(env, EINVAL, op, Ctx("", pname), "frequencyHz must be an integer in 1..100000");
  RequireLoaded(env, op, "");
  bpf_program* prog = bpf_object__find_program_by_name(obj_, pname.c_str());
  if (!prog) ThrowBpfError(env, ENOENT, op, Ctx("", pname), "no such program");
  if (bpf_program__type(prog) != BPF_PROG_TYPE_PERF_EVENT)
    ThrowBpfError(env, EINVAL, op, Ctx("", pname), "the program is not SEC(\"perf_event\")");

  int ncpu = libbpf_num_possible_cpus();
  if (ncpu < 0) ThrowBpfError(env, -ncpu, "libbpf_num_possible_cpus", Ctx("", pname));
  std::vector<bpf_link*> mine;
  auto fail = [&](int err, const char* what, const std::string& detail) {
    for (bpf_link* l : mine) bpf_link__destroy(l);
    ThrowBpfError(env, err ? err : EINVAL, what, Ctx("", pname), detail);
  };
  for (int cpu = 0; cpu < ncpu; cpu++) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    // CPU-clock counts nanoseconds: a fixed period of 1 s / hz gives hz samples a second
    // without frequency mode, whose period re-tuning runs on every scheduler tick.
    attr.sample_period = static_cast<uint64_t>(1e9 / hz);
    int fd = static_cast<int>(syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
    if (fd < 0) {
      int err = errno;
      if (err == ENODEV) continue;  // a possible CPU that is not online
      std::string hint = (err == EACCES || err == EPERM)
                             ? " (needs CAP_PERFMON, or CAP_SYS_ADMIN, or kernel.perf_event_paranoid allowing CPU-wide events)"
                             : "";
      fail(err, op, "cannot open a CPU-clock event on CPU " + std::to_string(cpu) + ": " + strerror(err) + hint);
    }
    ClearLibbpfLog();
    bpf_link* link = bpf_program__attach_perf_event(prog, fd);
    if (!link) {
      int err = errno;
      close(fd);
      fail(err, "bpf_program__attach_perf_event",
           WithLog("cannot attach to the perf event of CPU " + std::to_string(cpu) + ": " + strerror(err ? err : EINVAL)));
    }
    mine.push_back(link);
  }
  if (mine.empty()) fail(ENODEV, op, "no CPU is online");
  links_.insert(links_.end(), mine.begin(), mine.end());
  return Napi::Number::New(env, static_cast<double>(mine.size()));
}

void BpfObjectWrap::Detach(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_link__destroy");
  DestroyLinks();
}

void BpfObjectWrap::DestroyLinks() {
  for (bpf_link* l : links_) bpf_link__destroy(l);
  links_.clear();
}

Napi::Value BpfObjectWrap::Maps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, "maps");
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  bpf_map* m;
  bpf_object__for_each_map(m, obj_) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_map__name(m));
    o.Set("type", Napi::Number::New(env, bpf_map__type(m)));
    o.Set("keySize", Napi::Number::New(env, bpf_map__key_size(m)));
    o.Set("valueSize", Napi::Number::New(env, bpf_map__value_size(m)));
    o.Set("maxEntries", Napi::Number::New(env, bpf_map__max_entries(m)));
    out.Set(i++, o);
  }
  return out;
}

void BpfObjectWrap::RequireKeySize(Napi::Env env, const char* op, const std::string& name, bpf_map* map, size_t length) const {
  if (length != bpf_map__key_size(map))
    ThrowBpfError(env, EINVAL, op, Ctx(name),
                  "key is " + std::to_string(length) + " bytes, the map's key is " + std::to_string(bpf_map__key_size(map)) + " bytes");
}

static size_t ValueBytes(bpf_map* map) {
  size_t vs = bpf_map__value_size(map);
  if (!IsPerCpu(bpf_map__type(map))) return vs;
  int ncpu = libbpf_num_possible_cpus();
  return ((vs + 7) & ~static_cast<size_t>(7)) * static_cast<size_t>(ncpu > 0 ? ncpu : 1);
}

void BpfObjectWrap::MapUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_update_elem";
  std::string name = StringArg(info, 0, op, "map");
  Napi::Buffer<uint8_t> key = BufferArg(info, 1, op, "key");
  Napi::Buffer<uint8_t> value = BufferArg(info, 2, op, "value");
  uint64_t flags = 0;
  if (info.Length() > 3 && !info[3].IsUndefined()) {
    if (!info[3].IsNumber()) ThrowArgError(env, op, "flags must be a number");
    flags = static_cast<uint64_t>(info[3].As<Napi::Number>().Int64Value());
  }
  RequireLoaded(env, op, name);
  bpf_map* map = FindMap(env, op, name);
  RequireKeySize(env, op, name, map, key.Length());
  size_t want = ValueBytes(map);
  if (value.Length() != want)
    ThrowBpfError(env, EINVAL, op, Ctx(name),
                  "value is " + std::to_string(value.Length()) + " bytes, the map's value is " + std::to_string(want) +
                      " bytes" + (IsPerCpu(bpf_map__type(map)) ? " (per-CPU: one 8-byte-aligned value per possible CPU)" : ""));
  if (bpf_map_update_elem(bpf_map__fd(map), key.Data(), value.Data(), flags) != 0)
    ThrowBpfError(env, errno, op, Ctx(name));
}

Napi::Value BpfObjectWrap::MapLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_lookup_elem";
  std::string name = StringArg(info, 0, op, "map");
  Napi::Buffer<uint8_t> key = BufferArg(info, 1, op, "key");
  RequireLoaded(env, op, name);
  bpf_map* map = FindMap(env, op, name);
  RequireKeySize(env, op, name, map, key.Length());
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, ValueBytes(map));
  if (bpf_map_lookup_elem(bpf_map__fd(map), key.Data(), out.Data()) != 0) {
    if (errno == ENOENT) return env.Null();
    ThrowBpfError(env, errno, op, Ctx(name));
  }
  return out;
}

Napi::Value BpfObjectWrap::MapDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_delete_elem";
  std::string name = StringArg(info, 0, op, "map");
  Napi::Buffer<uint8_t> key = BufferArg(info, 1, op, "key");
  RequireLoaded(env, op, name);
  bpf_map* map = FindMap(env, op, name);
  RequireKeySize(env, op, name, map, key.Length());
  if (bpf_map_delete_elem(bpf_map__fd(map), key.Data()) != 0) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    ThrowBpfError(env, errno, op, Ctx(name));
  }
  return Napi::Boolean::New(env, true);
}

// mapEntries(map): every entry as {count, keys, values}: `count` keys of keySize bytes back to
// back, and their values (per-CPU maps: possibleCpus() 8-byte-aligned values each). Read in
// batches (BPF_MAP_LOOKUP_BATCH) where the map type has them, else key by key. Entries added
// or removed while it reads may be missed or seen; none is seen twice in one batch walk.
Napi::Value BpfObjectWrap::MapEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_lookup_batch";
  std::string name = StringArg(info, 0, op, "map");
  RequireLoaded(env, op, name);
  bpf_map* map = FindMap(env, op, name);
  if (bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF)
    ThrowBpfError(env, EINVAL, op, Ctx(name), "a ring buffer has no entries to list: read it with openRingBuffer()");
  int fd = bpf_map__fd(map);
  size_t ks = bpf_map__key_size(map);
  size_t vs = ValueBytes(map);
  size_t max = bpf_map__max_entries(map);
  std::vector<uint8_t> keys(ks * max), values(vs * max);
  size_t count = 0;

  bool batched = false;
  if (bpf_map__type(map) == BPF_MAP_TYPE_HASH || bpf_map__type(map) == BPF_MAP_TYPE_PERCPU_HASH ||
      bpf_map__type(map) == BPF_MAP_TYPE_LRU_HASH || bpf_map__type(map) == BPF_MAP_TYPE_LRU_PERCPU_HASH) {
    // Hash buckets may hold more keys than asked for (ENOSPC): then retry with a bigger ask.
    std::vector<uint8_t> in(ks), out(ks);
    bool first = true;
    batched = true;
    while (count < max) {
      __u32 n = static_cast<__u32>(max - count);
      LIBBPF_OPTS(bpf_map_batch_opts, opts);
      int err = bpf_map_lookup_batch(fd, first ? nullptr : in.data(), out.data(), keys.data() + count * ks,
                                     values.data() + count * vs, &n, &opts);
      int e = err ? errno : 0;
      if (err && e != ENOENT) {
        if (first && (e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP)) {
          batched = false;  // an old kernel: key by key below
          count = 0;
          break;
        }
        ThrowBpfError(env, e, op, Ctx(name));
      }
      count += n;
      if (e == ENOENT) break;
      first = false;
      memcpy(in.data(), out.data(), ks);
    }
  }
  if (!batched) {
    op = "bpf_map_get_next_key";
    std::vector<uint8_t> cur(ks), next(ks);
    bool first = true;
    while (count < max) {
      if (bpf_map_get_next_key(fd, first ? nullptr : cur.data(), next.data()) != 0) {
        if (errno == ENOENT) break;
        ThrowBpfError(env, errno, op, Ctx(name));
      }
      first = false;
      memcpy(cur.data(), next.data(), ks);
      if (bpf_map_lookup_elem(fd, next.data(), values.data() + count * vs) != 0) {
        if (errno == ENOENT) continue;  // deleted since get_next_key
        ThrowBpfError(env, errno, "bpf_map_lookup_elem", Ctx(name));
      }
      memcpy(keys.data() + count * ks, next.data(), ks);
      count++;
    }
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", Napi::Number::New(env, static_cast<double>(count)));
  o.Set("keys", Napi::Buffer<uint8_t>::Copy(env, keys.data(), count * ks));
  o.Set("values", Napi::Buffer<uint8_t>::Copy(env, values.data(), count * vs));
  return o;
}

Napi::Value BpfObjectWrap::OpenRingBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "ring_buffer__new";
  std::string name = StringArg(info, 0, op, "map");
  if (info.Length() < 2 || !info[1].IsFunction()) ThrowArgError(env, op, "onBatch must be a function");
  RequireLoaded(env, op, name);
  bpf_map* map = FindMap(env, op, name);
  if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF)
    ThrowBpfError(env, EINVAL, op, Ctx(name), "map is not a BPF_MAP_TYPE_RINGBUF");
  RingBufferReaderInit init{this, Value(), bpf_map__fd(map), name, info[1].As<Napi::Function>()};
  Napi::Object reader = GetAddonData(env)->ring_buffer_reader_ctor.New({Napi::External<RingBufferReaderInit>::New(env, &init)});
  readers_.insert(RingBufferReader::Unwrap(reader));
  return reader;
}

// spoolRingBuffer(map, fd, {flushIntervalMs, maxRecords}): a RingBufferSpool appending to fd.
Napi::Value BpfObjectWrap::SpoolRingBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "ring_buffer__new";
  std::string name = StringArg(info, 0, op, "map");
  if (info.Length() < 2 || !info[1].IsNumber()) ThrowArgError(env, op, "fd must be a file descriptor (a number)");
  int fd = info[1].As<Napi::Number>().Int32Value();
  if (fd < 0) ThrowArgError(env, op, "fd must be a file descriptor (a number)");
  int flush_ms = 10;
  double max_records = 0;
  if (info.Length() > 2 && info[2].IsObject()) {
    Napi::Object o = info[2].As<Napi::Object>();
    Napi::Value f = o.Get("flushIntervalMs");
    if (f.IsNumber()) flush_ms = f.As<Napi::Number>().Int32Value();
    Napi::Value m = o.Get("maxRecords");
    if (m.IsNumber()) max_records = m.As<Napi::Number>().DoubleValue();
  }
  if (flush_ms < 1 || flush_ms > 10000) ThrowArgError(env, op, "flushIntervalMs must be 1..10000");
  if (!(max_records >= 0)) ThrowArgError(env, op, "maxRecords must be 0 (no cap) or more");
  RequireLoaded(env, op, name);
  bpf_map* map = FindMap(env, op, name);
  if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF)
    ThrowBpfError(env, EINVAL, op, Ctx(name), "map is not a BPF_MAP_TYPE_RINGBUF");
  RingBufferSpoolInit init{this, Value(), bpf_map__fd(map), name, fd, flush_ms, max_records};
  Napi::Object spool = GetAddonData(env)->ring_buffer_spool_ctor.New({Napi::External<RingBufferSpoolInit>::New(env, &init)});
  spools_.insert(RingBufferSpool::Unwrap(spool));
  return spool;
}

void BpfObjectWrap::Close(const Napi::CallbackInfo& info) {
  if (closed_) return;
  for (RingBufferReader* r : std::set<RingBufferReader*>(readers_)) r->Shutdown(false);
  readers_.clear();
  for (RingBufferSpool* s : std::set<RingBufferSpool*>(spools_)) s->Shutdown(false);
  spools_.clear();
  Release();
}

void BpfObjectWrap::Release() {
  DestroyLinks();
  if (obj_) bpf_object__close(obj_);
  obj_ = nullptr;
  closed_ = true;
  loaded_ = false;
}
