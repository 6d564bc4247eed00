/* The C side of the boundary-cost figures: the same C core function the
 * addon calls (core/vfio.c, core/memfd.c), in a plain C loop. bench/run.mjs
 * times the addon's call of it from JavaScript in the same run; the ratio is
 * what crossing from JS to C and back costs on top of the system call.
 *
 * Usage:
 *   ioctl api-version <path> <calls> <reps>
 *       VFIO_GET_API_VERSION (_IO(';', 100), kernel-abi §1) on <path>:
 *       /dev/vfio/vfio answers 0 (the cheapest VFIO ioctl: no argument, no
 *       lock), any other file ENOTTY (the VFS's answer for an unknown ioctl)
 *   ioctl add-seals <calls> <reps>
 *       fcntl(F_ADD_SEALS, 0) on a memfd: succeeds and changes nothing, on
 *       any Linux machine (the cheapest successful call the addon makes)
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

static int api_version(int fd)
{
	return __vfio_get_api_version(fd);
}

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
	int fd, first, at = 2;
	long calls, reps;
	double best = 1e30;

	if (argc >= 5 && strcmp(argv[1], "api-version") == 0) {
		fd = __fd_open(argv[2], O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "ioctl bench: cannot open %s: %s\n", argv[2], strerror(-fd));
			return 1;
		}
		do_call = api_version;
		at = 3;
	} else if (argc >= 4 && strcmp(argv[1], "add-seals") == 0) {
		fd = __memfd_create("iovh-bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0) {
			fprintf(stderr, "ioctl bench: memfd_create: %s\n", strerror(-fd));
			return 1;
		}
		do_call = add_seals;
	} else {
		fprintf(stderr, "usage: ioctl api-version <path> <calls> <reps> | add-seals <calls> <reps>\n");
		return 2;
	}
	calls = atol(argv[at]);
	reps = atol(argv[at + 1]);
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
