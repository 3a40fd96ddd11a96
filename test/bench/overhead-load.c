/*
 * Load for the overhead benchmark: repeats one syscall-heavy operation and prints the mean
 * nanoseconds per operation.
 *   overhead-load open <n> <path>     open(2)+close(2) of an existing file
 *   overhead-load exec <n> <binary>   fork+execve+wait of a trivial binary
 *   overhead-load connect <n> <port>  TCP connect to 127.0.0.1:<port> (refused) and close
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long long start, elapsed;
	long n, i;

	if (argc != 4) {
		fprintf(stderr, "usage: %s open|exec|connect <n> <arg>\n", argv[0]);
		return 2;
	}
	n = atol(argv[2]);
	start = now_ns();
	if (!strcmp(argv[1], "open")) {
		for (i = 0; i < n; i++) {
			int fd = open(argv[3], O_RDONLY | O_CLOEXEC);

			if (fd < 0) {
				perror("open");
				return 1;
			}
			close(fd);
		}
	} else if (!strcmp(argv[1], "exec")) {
		for (i = 0; i < n; i++) {
			pid_t pid = fork();

			if (pid == 0) {
				execl(argv[3], argv[3], (char *)NULL);
				_exit(127);
			}
			waitpid(pid, NULL, 0);
		}
	} else if (!strcmp(argv[1], "connect")) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[3])) };

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		for (i = 0; i < n; i++) {
			int fd = socket(AF_INET, SOCK_STREAM, 0);

			connect(fd, (struct sockaddr *)&sa, sizeof(sa));
			close(fd);
		}
	} else {
		fprintf(stderr, "unknown operation %s\n", argv[1]);
		return 2;
	}
	elapsed = now_ns() - start;
	printf("%.1f\n", (double)elapsed / n);
	return 0;
}
