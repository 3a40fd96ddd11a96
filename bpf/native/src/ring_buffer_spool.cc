#include "ring_buffer_spool.h"

#include <bpf/libbpf.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bpf_error.h"
#include "bpf_object_wrap.h"

namespace {
int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
}  // namespace

Napi::Function RingBufferSpool::Define(Napi::Env env) {
  return DefineClass(env, "RingBufferSpool",
                     {
                         InstanceMethod<&RingBufferSpool::Stats>("stats"),
                         InstanceMethod<&RingBufferSpool::Flush>("flush"),
                         InstanceMethod<&RingBufferSpool::Close>("close"),
                     });
}

// Built only by BpfObject.spoolRingBuffer (argument: External<RingBufferSpoolInit>).
RingBufferSpool::RingBufferSpool(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBufferSpool>(info) {
  Napi::Env env = info.Env();
  const char* op = "ring_buffer__new";
  if (info.Length() < 1 || !info[0].IsExternal())
    ThrowArgError(env, op, "RingBufferSpool is created by BpfObject.spoolRingBuffer()");
  RingBufferSpoolInit* init = info[0].As<Napi::External<RingBufferSpoolInit>>().Data();
  owner_ = init->owner;
  map_name_ = init->map_name;
  object_path_ = owner_->path();
  out_fd_ = init->out_fd;
  flush_interval_ms_ = init->flush_interval_ms;
  max_records_ = init->max_records > 0 ? static_cast<uint64_t>(init->max_records) : 0;
  buf_.resize(kWriteBytes + 64 * 1024);
  rb_ = ring_buffer__new(init->map_fd, &RingBufferSpool::OnSample, this, nullptr);
  if (!rb_) {
    int err = errno;
    closed_ = true;
    ThrowBpfError(env, err ? err : EINVAL, op, BpfErrorContext{object_path_, map_name_, ""});
  }
  owner_js_ = Napi::Persistent(init->owner_js);
  last_write_ns_ = MonotonicNs();
  try {
    thread_ = std::thread(&RingBufferSpool::Run, this);
  } catch (const std::system_error& e) {
    ring_buffer__free(rb_);
    rb_ = nullptr;
    closed_ = true;
    ThrowBpfError(env, e.code().value(), "pthread_create", BpfErrorContext{object_path_, map_name_, ""});
  }
  running_ = true;
  // Stay alive while the thread runs, even if JS drops the spool: closing is explicit.
  Ref();
  self_ref_ = true;
}

RingBufferSpool::~RingBufferSpool() { Shutdown(true); }

void RingBufferSpool::Run() {
  const int timeout = std::max(1, flush_interval_ms_);
  while (!stop_.load(std::memory_order_relaxed)) {
    // Returns early on a wake-up (BPF_RB_FORCE_WAKEUP, or a default-flag submit into a caught-up
    // ring); ring_buffer__poll consumes only rings epoll reported, so consume everything after it.
    int rc = ring_buffer__poll(rb_, timeout);
    if (rc < 0 && rc != -EINTR) {
      consume_errno_.store(-rc);
      break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (rc > 0) wakeups_.fetch_add(1, std::memory_order_relaxed);
    ConsumeAndWrite(false);
  }
}

int RingBufferSpool::OnSample(void* ctx, void* data, size_t size) {
  RingBufferSpool* self = static_cast<RingBufferSpool*>(ctx);
  if (self->max_records_ && self->records_.load(std::memory_order_relaxed) + self->buf_records_ >= self->max_records_) {
    self->over_cap_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  if (self->write_errno_.load(std::memory_order_relaxed)) {
    self->unwritten_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  size_t framed = (4 + size + 7) & ~static_cast<size_t>(7);
  if (self->buf_len_ + framed > self->buf_.size()) {
    self->WriteBuffered();
    if (framed > self->buf_.size()) self->buf_.resize(framed);
  }
  uint8_t* p = self->buf_.data() + self->buf_len_;
  uint32_t len = static_cast<uint32_t>(size);
  p[0] = len & 0xff;
  p[1] = (len >> 8) & 0xff;
  p[2] = (len >> 16) & 0xff;
  p[3] = (len >> 24) & 0xff;
  memcpy(p + 4, data, size);
  memset(p + 4 + size, 0, framed - 4 - size);
  self->buf_len_ += framed;
  self->buf_records_ += 1;
  if (self->buf_len_ >= kWriteBytes) self->WriteBuffered();
  return 0;
}

void RingBufferSpool::WriteBuffered() {
  if (buf_len_ == 0) return;
  size_t off = 0;
  while (off < buf_len_) {
    ssize_t n = write(out_fd_, buf_.data() + off, buf_len_ - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      write_errno_.store(errno);
      unwritten_.fetch_add(buf_records_);
      break;
    }
    off += static_cast<size_t>(n);
  }
  if (off == buf_len_) {
    // Publish the records only once their bytes are in the file: a reader never sees half a record.
    records_.fetch_add(buf_records_, std::memory_order_release);
    bytes_.fetch_add(buf_len_, std::memory_order_release);
  }
  buf_len_ = 0;
  buf_records_ = 0;
  last_write_ns_ = MonotonicNs();
}

void RingBufferSpool::ConsumeAndWrite(bool force_write) {
  if (!rb_) return;
  int rc = ring_buffer__consume(rb_);
  if (rc < 0) consume_errno_.store(-rc);
  if (force_write || buf_len_ >= kWriteBytes ||
      MonotonicNs() - last_write_ns_ >= static_cast<int64_t>(flush_interval_ms_) * 1000000)
    WriteBuffered();
}

void RingBufferSpool::Shutdown(bool from_finalizer) {
  if (running_) {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    running_ = false;
    std::lock_guard<std::mutex> lock(mu_);
    ConsumeAndWrite(true);
  }
  if (rb_) ring_buffer__free(rb_);
  rb_ = nullptr;
  closed_ = true;
  if (owner_) owner_->ForgetSpool(this);
  owner_ = nullptr;
  if (!from_finalizer) {
    owner_js_.Reset();
    if (self_ref_) {
      self_ref_ = false;
      Unref();
    }
  }
  std::vector<uint8_t>().swap(buf_);
}

Napi::Object RingBufferSpool::StatsObject(Napi::Env env) const {
  Napi::Object o = Napi::Object::New(env);
  o.Set("records", Napi::Number::New(env, static_cast<double>(records_.load(std::memory_order_acquire))));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(bytes_.load(std::memory_order_acquire))));
  o.Set("overCap", Napi::Number::New(env, static_cast<double>(over_cap_.load())));
  o.Set("unwritten", Napi::Number::New(env, static_cast<double>(unwritten_.load())));
  o.Set("wakeups", Napi::Number::New(env, static_cast<double>(wakeups_.load())));
  int werr = write_errno_.load();
  int cerr = consume_errno_.load();
  if (werr) o.Set("writeError", Napi::String::New(env, std::string(strerror(werr))));
  if (cerr) o.Set("consumeError", Napi::String::New(env, std::string(strerror(cerr))));
  return o;
}

Napi::Value RingBufferSpool::Stats(const Napi::CallbackInfo& info) { return StatsObject(info.Env()); }

Napi::Value RingBufferSpool::Flush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) ThrowBpfError(env, EBADF, "ring_buffer__consume", BpfErrorContext{object_path_, map_name_, ""}, "the spool is closed");
  {
    std::lock_guard<std::mutex> lock(mu_);
    ConsumeAndWrite(true);
  }
  return StatsObject(env);
}

Napi::Value RingBufferSpool::Close(const Napi::CallbackInfo& info) {
  Shutdown(false);
  return StatsObject(info.Env());
}
