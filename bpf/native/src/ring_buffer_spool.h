// RingBufferSpool: drains a BPF_MAP_TYPE_RINGBUF map on a thread of its own (not the JS event loop)
// and appends the records to a file, framed as RingBufferReader frames them ([u32 LE length][bytes]
// [pad to 8]), in large writes. JS reads the file behind it at its own pace, so a slow consumer
// costs disk, never events. The thread wakes on the ring's epoll fd (a BPF_RB_FORCE_WAKEUP) or
// every flush interval at the latest, so producers may submit with BPF_RB_NO_WAKEUP.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct ring_buffer;
class BpfObjectWrap;

struct RingBufferSpoolInit {
  BpfObjectWrap* owner;
  Napi::Object owner_js;
  int map_fd;
  std::string map_name;
  int out_fd;
  int flush_interval_ms;
  double max_records;
};

class RingBufferSpool : public Napi::ObjectWrap<RingBufferSpool> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RingBufferSpool(const Napi::CallbackInfo& info);
  ~RingBufferSpool() override;

  // Stop the thread (after a last drain and write) and free the ring; from_finalizer: the JS
  // object is being collected.
  void Shutdown(bool from_finalizer);

  // Buffered bytes that trigger a write before the flush interval is up.
  static const size_t kWriteBytes = 1u << 20;

 private:
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Object StatsObject(Napi::Env env) const;

  static int OnSample(void* ctx, void* data, size_t size);
  void Run();
  // Consume what the ring holds and write it out; the caller holds mu_.
  void ConsumeAndWrite(bool force_write);
  void WriteBuffered();

  BpfObjectWrap* owner_ = nullptr;
  Napi::ObjectReference owner_js_;
  std::string map_name_;
  std::string object_path_;
  ring_buffer* rb_ = nullptr;
  int out_fd_ = -1;
  int flush_interval_ms_ = 10;
  uint64_t max_records_ = 0;  // 0: no cap

  std::mutex mu_;  // one consumer of the ring and writer of the file at a time
  std::thread thread_;
  std::atomic<bool> stop_{false};
  bool running_ = false;
  bool closed_ = false;
  bool self_ref_ = false;

  std::vector<uint8_t> buf_;
  size_t buf_len_ = 0;
  uint64_t buf_records_ = 0;
  int64_t last_write_ns_ = 0;

  // Read by JS while the thread runs.
  std::atomic<uint64_t> records_{0};   // whole records written to the file
  std::atomic<uint64_t> bytes_{0};     // bytes written (always at a record boundary)
  std::atomic<uint64_t> over_cap_{0};  // records consumed beyond max_records, not written
  std::atomic<uint64_t> unwritten_{0}; // records consumed after a write error
  std::atomic<uint64_t> wakeups_{0};   // times the thread woke up and found records
  std::atomic<int> write_errno_{0};
  std::atomic<int> consume_errno_{0};
};
