/*
 * Load for the storm benchmark: one operation at full speed for a fixed time, counted by itself.
 *   storm-load open <seconds> <cpu> <path> [rate]    open(2)+close(2) of an existing file
 *   storm-load exec <seconds> <cpu> <binary> [rate]  vfork+execve+wait of a trivial (static) binary
 * Pins itself (and so its children) to <cpu>, prints "ready" and waits for a line on stdin (the
 * tracer attaches in between), runs, then prints {"ops":N,"seconds":S} on stdout. With a rate
 * (operations per second) it paces itself to it; without (or 0), full speed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pace(double ahead_s)
{
	struct timespec ts = { .tv_sec = (time_t)ahead_s, .tv_nsec = (long)((ahead_s - (time_t)ahead_s) * 1e9) };

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	double seconds, start, end, t, rate;
	long long ops = 0;
	cpu_set_t set;
	char line[16];

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: %s open|exec <seconds> <cpu> <arg> [rate]\n", argv[0]);
		return 2;
	}
	seconds = atof(argv[2]);
	rate = argc == 6 ? atof(argv[5]) : 0;
	CPU_ZERO(&set);
	CPU_SET(atoi(argv[3]), &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("sched_setaffinity");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;

	start = now_s();
	end = start + seconds;
	if (!strcmp(argv[1], "open")) {
		for (;;) {
			int i;

			for (i = 0; i < 256; i++) {
				int fd = open(argv[4], O_RDONLY | O_CLOEXEC);

				if (fd < 0) {
					perror("open");
					return 1;
				}
				close(fd);
			}
			ops += 256;
			t = now_s();
			if (t >= end)
				break;
			if (rate > 0 && start + ops / rate > t)
				pace(start + ops / rate - t);
		}
	} else if (!strcmp(argv[1], "exec")) {
		char *child_argv[] = { argv[4], NULL };
		char *child_env[] = { NULL };

		do {
			int status;
			pid_t pid = vfork();

			if (pid < 0) {
				perror("vfork");
				return 1;
			}
			if (pid == 0) {
				execve(argv[4], child_argv, child_env);
				_exit(127);
			}
			if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				fprintf(stderr, "exec of %s failed\n", argv[4]);
				return 1;
			}
			ops++;
			t = now_s();
			if (rate > 0 && start + ops / rate > t)
				pace(start + ops / rate - t);
		} while (t < end);
	} else {
		fprintf(stderr, "unknown operation %s\n", argv[1]);
		return 2;
	}
	t = now_s() - start;
	printf("{\"ops\":%lld,\"seconds\":%.6f}\n", ops, t);
	return 0;
}
