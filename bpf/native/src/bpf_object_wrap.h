// BpfObject: one BPF object file. open -> setGlobal/setMapMaxEntries -> load
// -> attach -> maps / ring buffer -> close.
#pragma once
#include <napi.h>

#include <set>
#include <string>
#include <vector>

#include "bpf_error.h"

struct bpf_object;
struct bpf_map;
struct bpf_link;
class RingBufferReader;
class RingBufferSpool;

class BpfObjectWrap : public Napi::ObjectWrap<BpfObjectWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit BpfObjectWrap(const Napi::CallbackInfo& info);
  ~BpfObjectWrap() override;

  // Used by RingBufferReader.
  void ForgetReader(RingBufferReader* reader) { readers_.erase(reader); }
  // Used by RingBufferSpool.
  void ForgetSpool(RingBufferSpool* spool) { spools_.erase(spool); }
  const std::string& path() const { return path_; }

 private:
  static Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value GetPath(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);
  void SetGlobal(const Napi::CallbackInfo& info);
  void SetMapMaxEntries(const Napi::CallbackInfo& info);
  void Load(const Napi::CallbackInfo& info);
  void Attach(const Napi::CallbackInfo& info);
  void Detach(const Napi::CallbackInfo& info);
  Napi::Value AttachPerfEvent(const Napi::CallbackInfo& info);
  Napi::Value Maps(const Napi::CallbackInfo& info);
  void MapUpdate(const Napi::CallbackInfo& info);
  Napi::Value MapLookup(const Napi::CallbackInfo& info);
  Napi::Value MapDelete(const Napi::CallbackInfo& info);
  Napi::Value MapEntries(const Napi::CallbackInfo& info);
  Napi::Value OpenRingBuffer(const Napi::CallbackInfo& info);
  Napi::Value SpoolRingBuffer(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);

  void Release();
  void DestroyLinks();
  BpfErrorContext Ctx(const std::string& map = "", const std::string& program = "") const;
  void RequireOpen(Napi::Env env, const char* op) const;
  void RequireLoaded(Napi::Env env, const char* op, const std::string& map) const;
  bpf_map* FindMap(Napi::Env env, const char* op, const std::string& name) const;
  /** EINVAL naming the map unless `length` is the map's key size. */
  void RequireKeySize(Napi::Env env, const char* op, const std::string& name, bpf_map* map, size_t length) const;

  std::string path_;
  bpf_object* obj_ = nullptr;
  bool loaded_ = false;
  bool closed_ = false;
  std::vector<bpf_link*> links_;
  std::set<RingBufferReader*> readers_;
  std::set<RingBufferSpool*> spools_;
};
