// libbpf's print callback: keeps the tail of libbpf's warnings (to explain a
// failed load/attach in the thrown error) and forwards them to stderr when
// TRACEJOB_LIBBPF_DEBUG=1 (=2 also forwards debug messages).
#pragma once
#include <string>

void InstallLibbpfLog();
// Forget what was captured so far (call before an operation).
void ClearLibbpfLog();
// The last lines captured since ClearLibbpfLog(), at most max_bytes.
std::string LibbpfLogTail(size_t max_bytes = 2048);
