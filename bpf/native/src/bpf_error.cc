#include "bpf_error.h"

#include <cerrno>
#include <cstring>

static std::string ErrnoName(int errnum) {
  const char* name = errnum > 0 ? strerrorname_np(errnum) : nullptr;
  return name ? name : "EUNKNOWN";
}

Napi::Error MakeBpfError(Napi::Env env, int errnum, const std::string& op,
                         const BpfErrorContext& ctx, const std::string& detail) {
  if (errnum < 0) errnum = -errnum;
  std::string code = ErrnoName(errnum);
  std::string msg = op + " failed";
  if (!ctx.program.empty()) msg += " for program '" + ctx.program + "'";
  if (!ctx.map.empty()) msg += " for map '" + ctx.map + "'";
  if (!ctx.object.empty())
    msg += std::string(ctx.program.empty() && ctx.map.empty() ? " for" : " in") + " object '" + ctx.object + "'";
  msg += ": ";
  if (!detail.empty()) {
    msg += detail;
    msg += " (" + code + ")";
  } else {
    msg += std::string(errnum > 0 ? strerror(errnum) : "unknown error") + " (" + code + ")";
  }
  Napi::Error err = Napi::Error::New(env, msg);
  Napi::Object o = err.Value();
  o.Set("code", Napi::String::New(env, code));
  o.Set("errno", Napi::Number::New(env, errnum));
  o.Set("op", Napi::String::New(env, op));
  if (!ctx.object.empty()) o.Set("object", Napi::String::New(env, ctx.object));
  if (!ctx.map.empty()) o.Set("map", Napi::String::New(env, ctx.map));
  if (!ctx.program.empty()) o.Set("program", Napi::String::New(env, ctx.program));
  return err;
}

void ThrowBpfError(Napi::Env env, int errnum, const std::string& op, const BpfErrorContext& ctx,
                   const std::string& detail) {
  throw MakeBpfError(env, errnum, op, ctx, detail);
}

void ThrowArgError(Napi::Env env, const std::string& op, const std::string& message) {
  throw MakeBpfError(env, EINVAL, op, BpfErrorContext{}, message);
}
