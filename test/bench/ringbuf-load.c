// Load generator for the ring-buffer benchmark: pinned to one CPU, it prints its
// pid, waits for a line on stdin, then calls getppid(2) for `seconds` (at most
// `rate` calls/s when rate > 0) and prints {"calls":N,"elapsedNs":T}.
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <seconds> <rate per s, 0 = unthrottled> <cpu>\n", argv[0]);
    return 2;
  }
  double seconds = atof(argv[1]);
  double rate = atof(argv[2]);
  int cpu = atoi(argv[3]);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) perror("sched_setaffinity");
  printf("%d\n", (int)getpid());
  fflush(stdout);
  char line[16];
  if (!fgets(line, sizeof line, stdin)) return 1;

  long long start = now_ns(), end = start + (long long)(seconds * 1e9), t = start;
  long long calls = 0;
  while (t < end) {
    for (int i = 0; i < 256; i++) syscall(SYS_getppid);
    calls += 256;
    t = now_ns();
    if (rate > 0) {
      long long due = start + (long long)(calls / rate * 1e9);
      while (t < due && t < end) {
        struct timespec d = {0, 50000};
        nanosleep(&d, NULL);
        t = now_ns();
      }
    }
  }
  printf("{\"calls\":%lld,\"elapsedNs\":%lld}\n", calls, now_ns() - start);
  return 0;
}
