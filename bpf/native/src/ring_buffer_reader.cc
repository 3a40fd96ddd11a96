#include "ring_buffer_reader.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "bpf_error.h"
#include "bpf_object_wrap.h"

Napi::Function RingBufferReader::Define(Napi::Env env) {
  return DefineClass(env, "RingBufferReader",
                     {
                         InstanceMethod<&RingBufferReader::Drain>("drain"),
                         InstanceMethod<&RingBufferReader::Close>("close"),
                     });
}

// Built only by BpfObject.openRingBuffer (argument: External<RingBufferReaderInit>).
RingBufferReader::RingBufferReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBufferReader>(info) {
  Napi::Env env = info.Env();
  const char* op = "ring_buffer__new";
  if (info.Length() < 1 || !info[0].IsExternal())
    ThrowArgError(env, op, "RingBufferReader is created by BpfObject.openRingBuffer()");
  RingBufferReaderInit* init = info[0].As<Napi::External<RingBufferReaderInit>>().Data();
  owner_ = init->owner;
  map_name_ = init->map_name;
  object_path_ = owner_->path();
  BpfErrorContext ctx{object_path_, map_name_, ""};

  batch_.resize(kBatchBytes + 64 * 1024);
  rb_ = ring_buffer__new(init->map_fd, &RingBufferReader::OnSample, this, nullptr);
  if (!rb_) {
    int err = errno;
    closed_ = true;
    ThrowBpfError(env, err ? err : EINVAL, op, ctx);
  }
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poll_ = new uv_poll_t;
  int rc = uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_));
  if (rc == 0) {
    poll_->data = this;
    rc = uv_poll_start(poll_, UV_READABLE, &RingBufferReader::OnPoll);
  }
  if (rc != 0) {
    Shutdown(true);
    ThrowBpfError(env, -rc, "uv_poll_start", ctx);
  }
  owner_js_ = Napi::Persistent(init->owner_js);
  on_batch_ = Napi::Persistent(init->on_batch);
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "tracejob:RingBufferReader");
  // Stay alive while polling, even if JS drops the reader: closing is explicit
  // (reader.close() or the owner's close()).
  Ref();
  self_ref_ = true;
}

RingBufferReader::~RingBufferReader() { Shutdown(true); }

void RingBufferReader::Shutdown(bool from_finalizer) {
  if (closed_ && !rb_ && !poll_) return;
  closed_ = true;
  if (poll_) {
    if (uv_is_active(reinterpret_cast<uv_handle_t*>(poll_))) uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (rb_) ring_buffer__free(rb_);
  rb_ = nullptr;
  if (owner_) owner_->ForgetReader(this);
  owner_ = nullptr;
  if (!from_finalizer) {
    owner_js_.Reset();
    on_batch_.Reset();
    async_context_.reset();
    if (self_ref_) {
      self_ref_ = false;
      Unref();
    }
  }
  std::vector<uint8_t>().swap(batch_);
}

int RingBufferReader::OnSample(void* ctx, void* data, size_t size) {
  RingBufferReader* self = static_cast<RingBufferReader*>(ctx);
  std::vector<uint8_t>& b = self->batch_;
  size_t at = self->batch_len_;
  size_t framed = (4 + size + 7) & ~static_cast<size_t>(7);
  if (at + framed > b.size()) b.resize(std::max(b.size() * 2, at + framed));
  uint32_t len = static_cast<uint32_t>(size);
  uint8_t* p = b.data() + at;
  p[0] = len & 0xff;
  p[1] = (len >> 8) & 0xff;
  p[2] = (len >> 16) & 0xff;
  p[3] = (len >> 24) & 0xff;
  memcpy(p + 4, data, size);
  for (size_t i = 4 + size; i < framed; i++) p[i] = 0;
  self->batch_len_ = at + framed;
  self->batch_count_++;
  if (self->batch_len_ >= kBatchBytes) {
    // The record was consumed and copied; stop here so the event loop gets a turn.
    self->batch_full_ = true;
    return -1;
  }
  return 0;
}

size_t RingBufferReader::ConsumeBatch(Napi::Env env) {
  batch_len_ = 0;
  batch_count_ = 0;
  batch_full_ = false;
  int rc = ring_buffer__consume(rb_);
  if (rc < 0 && !batch_full_) ThrowBpfError(env, errno ? errno : -rc, "ring_buffer__consume", BpfErrorContext{object_path_, map_name_, ""});
  return batch_count_;
}

void RingBufferReader::OnPoll(uv_poll_t* handle, int status, int events) {
  RingBufferReader* self = static_cast<RingBufferReader*>(handle->data);
  if (!self || self->closed_) return;
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  Napi::Object keep_alive = self->Value();  // the reader survives a close() from onBatch
  try {
    if (status < 0)
      ThrowBpfError(env, -status, "uv_poll", BpfErrorContext{self->object_path_, self->map_name_, ""});
    size_t n = self->ConsumeBatch(env);
    if (n == 0) return;
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::Copy(env, self->batch_.data(), self->batch_len_);
    Napi::Number count = Napi::Number::New(env, static_cast<double>(n));
    self->on_batch_.MakeCallback(keep_alive, {buf, count}, *self->async_context_);
  } catch (const Napi::Error& e) {
    // Nobody JS-side can catch here: report it as an uncaught exception.
    napi_fatal_exception(env, e.Value());
  }
  (void)keep_alive;
}

Napi::Value RingBufferReader::Drain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) ThrowBpfError(env, EBADF, "ring_buffer__consume", BpfErrorContext{object_path_, map_name_, ""}, "the reader is closed");
  double total = 0;
  for (;;) {
    size_t n = ConsumeBatch(env);
    if (n == 0) break;
    total += static_cast<double>(n);
    bool more = batch_full_;
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::Copy(env, batch_.data(), batch_len_);
    on_batch_.Call(env.Undefined(), {buf, Napi::Number::New(env, static_cast<double>(n))});
    if (!more || closed_) break;
  }
  return Napi::Number::New(env, total);
}

void RingBufferReader::Close(const Napi::CallbackInfo& info) { Shutdown(false); }
