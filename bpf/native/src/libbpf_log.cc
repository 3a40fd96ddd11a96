#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

static int g_forward_level = -1;  // -1: forward nothing
static std::string g_tail;
static const size_t kTailCap = 16384;

static int PrintCallback(enum libbpf_print_level level, const char* fmt, va_list args) {
  va_list copy;
  va_copy(copy, args);
  char buf[1024];
  int n = vsnprintf(buf, sizeof buf, fmt, copy);
  va_end(copy);
  if (n < 0) return 0;
  if (level <= LIBBPF_INFO) {
    g_tail.append(buf);
    if (g_tail.size() > kTailCap) g_tail.erase(0, g_tail.size() - kTailCap);
  }
  if (g_forward_level >= 0 && static_cast<int>(level) <= g_forward_level) {
    fputs(buf, stderr);
  }
  return n;
}

void InstallLibbpfLog() {
  const char* env = getenv("TRACEJOB_LIBBPF_DEBUG");
  if (env && strcmp(env, "1") == 0) g_forward_level = LIBBPF_INFO;
  if (env && strcmp(env, "2") == 0) g_forward_level = LIBBPF_DEBUG;
  libbpf_set_print(PrintCallback);
}

void ClearLibbpfLog() { g_tail.clear(); }

std::string LibbpfLogTail(size_t max_bytes) {
  std::string t = g_tail;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  if (t.size() > max_bytes) {
    t = t.substr(t.size() - max_bytes);
    size_t nl = t.find('\n');
    if (nl != std::string::npos) t = t.substr(nl + 1);
    t = "..." + t;
  }
  return t;
}
