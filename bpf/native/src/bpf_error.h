// Errors thrown to JS: an Error with code (errno name), errno, op and the
// object/map/program involved, and a message naming all of them.
#pragma once
#include <napi.h>
#include <string>

struct BpfErrorContext {
  std::string object;
  std::string map;
  std::string program;
};

// Build the JS error (errnum > 0). `detail` is appended to the message.
Napi::Error MakeBpfError(Napi::Env env, int errnum, const std::string& op,
                         const BpfErrorContext& ctx, const std::string& detail = "");

// Throw it (as a C++ exception carrying the JS error).
[[noreturn]] void ThrowBpfError(Napi::Env env, int errnum, const std::string& op,
                                const BpfErrorContext& ctx, const std::string& detail = "");

// Throw a TypeError-like argument error with code EINVAL.
[[noreturn]] void ThrowArgError(Napi::Env env, const std::string& op, const std::string& message);
