/*
 * Workload of the profile tests and benchmark: burns CPU in a named function, compiled with
 * symbols and frame pointers so that its user stacks walk and resolve.
 *   burn <seconds> [burn|spin]   burn_cpu() (or spin_elsewhere()) in a loop; prints "ready"
 *                                once running, then at the end the loop iterations per second
 *   burn work <iterations>       runs burn_cpu() the given number of times, prints the ns taken:
 *                                wall clock, then its own CPU time (CLOCK_PROCESS_CPUTIME_ID,
 *                                which holds the interrupts it took too when the kernel does not
 *                                account IRQ time apart)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile unsigned long sink;

static long long clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

__attribute__((noinline)) void burn_cpu(void)
{
	unsigned long x = sink;

	for (int i = 0; i < 200000; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	sink = x;
}

__attribute__((noinline)) void spin_elsewhere(void)
{
	unsigned long x = sink;

	for (int i = 0; i < 200000; i++)
		x = (x ^ (x >> 7)) * 2654435761UL;
	sink = x;
}

__attribute__((noinline)) static void run_for(double seconds, void (*fn)(void))
{
	long long end = now_ns() + (long long)(seconds * 1e9), start = now_ns();
	unsigned long n = 0;

	while (now_ns() < end) {
		fn();
		n++;
	}
	printf("%.1f\n", n / ((now_ns() - start) / 1e9));
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "work") == 0) {
		long n = atol(argv[2]);
		long long start = now_ns(), cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);

		for (long i = 0; i < n; i++)
			burn_cpu();
		printf("%lld %lld\n", now_ns() - start, clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu);
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: burn <seconds> [burn|spin] | burn work <iterations>\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	run_for(atof(argv[1]), argc >= 3 && strcmp(argv[2], "spin") == 0 ? spin_elsewhere : burn_cpu);
	return 0;
}
