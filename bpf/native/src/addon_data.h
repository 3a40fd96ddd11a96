// Per-environment data: the JS constructors of the classes.
#pragma once
#include <napi.h>

struct AddonData {
  Napi::FunctionReference bpf_object_ctor;
  Napi::FunctionReference ring_buffer_reader_ctor;
  Napi::FunctionReference ring_buffer_spool_ctor;
};

inline AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }
