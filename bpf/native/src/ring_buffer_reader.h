// RingBufferReader: drains a BPF_MAP_TYPE_RINGBUF map on libuv readiness and
// hands JS one Buffer per batch of records, each [u32 LE length][bytes][pad to 8].
#pragma once
#include <napi.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

struct ring_buffer;
class BpfObjectWrap;

struct RingBufferReaderInit {
  BpfObjectWrap* owner;
  Napi::Object owner_js;
  int map_fd;
  std::string map_name;
  Napi::Function on_batch;
};

class RingBufferReader : public Napi::ObjectWrap<RingBufferReader> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RingBufferReader(const Napi::CallbackInfo& info);
  ~RingBufferReader() override;

  // Stop polling and free everything; from_finalizer: the JS object is being collected.
  void Shutdown(bool from_finalizer);

  // Largest batch handed to JS in one call.
  static const size_t kBatchBytes = 4u << 20;

 private:
  Napi::Value Drain(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);

  static int OnSample(void* ctx, void* data, size_t size);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  // Consume up to kBatchBytes into batch_; returns the record count. Throws on error.
  size_t ConsumeBatch(Napi::Env env);

  BpfObjectWrap* owner_ = nullptr;
  Napi::ObjectReference owner_js_;
  Napi::FunctionReference on_batch_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  std::string map_name_;
  std::string object_path_;
  ring_buffer* rb_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  std::vector<uint8_t> batch_;  // capacity; batch_len_ bytes are in use
  size_t batch_len_ = 0;
  size_t batch_count_ = 0;
  bool batch_full_ = false;
  bool closed_ = false;
  bool self_ref_ = false;
};
