/* The C loop of the boundary.syscall figure as a program of its own, for
 * the boundary.c_process row: fcntl(F_ADD_SEALS, 0) on a memfd through
 * __memfd_add_seals (core/memfd.c), in a single-threaded process. The
 * boundary figures' baseline is the same loop inside the Node process
 * (cLoop in bench/boundary.c); this one shows what a process whose one
 * thread owns its file table saves on every fd lookup (fs/file.c
 * __fget_light), which no Node process has.
 *
 * Usage: ioctl add-seals <calls> <reps>
 * Prints one JSON object: the best of <reps> timed loops, in ns per call, and
 * the first call's return value (>= 0, or -errno). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "iovh.h"

typedef int (*call_fn)(int fd);

static int add_seals(int fd)
{
	return __memfd_add_seals(fd, 0);
}

/* Through a volatile pointer, so the loop makes every call. */
static call_fn volatile do_call;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	int fd, first;
	long calls, reps;
	double best = 1e30;

	if (argc >= 4 && strcmp(argv[1], "add-seals") == 0) {
		fd = __memfd_create("iovh-bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0) {
			fprintf(stderr, "ioctl bench: memfd_create: %s\n", strerror(-fd));
			return 1;
		}
		do_call = add_seals;
	} else {
		fprintf(stderr, "usage: ioctl add-seals <calls> <reps>\n");
		return 2;
	}
	calls = atol(argv[2]);
	reps = atol(argv[3]);
	if (calls < 1 || reps < 1) {
		fprintf(stderr, "ioctl bench: calls and reps must be positive\n");
		return 2;
	}
	first = do_call(fd);
	for (long r = 0; r < reps; r++) {
		double t0 = now();

		for (long i = 0; i < calls; i++)
			do_call(fd);
		double t = now() - t0;

		if (t < best)
			best = t;
	}
	printf("{\"ns_per_call\": %.2f, \"calls\": %ld, \"reps\": %ld, \"result\": %d}\n", best / (double)calls * 1e9, calls, reps, first);
	__fd_close(fd);
	return 0;
}
