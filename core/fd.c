/* Files and device nodes: open, close, pread/pwrite (VFIO region access at
 * region offset + offset, docs/kernel.md §2), ftruncate. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "iovh.h"

int __fd_open(const char *path, int flags)
{
	int fd;

	do {
		fd = open(path, flags);
	} while (fd == -1 && errno == EINTR);
	return fd == -1 ? -errno : fd;
}

/* Not retried on EINTR: Linux releases the descriptor before reporting it. */
int __fd_close(int fd)
{
	return close(fd) == -1 ? -errno : 0;
}

ssize_t __fd_pread(int fd, void *buf, size_t len, uint64_t offset)
{
	ssize_t n;

	do {
		n = pread(fd, buf, len, (off_t)offset);
	} while (n == -1 && errno == EINTR);
	return n == -1 ? -errno : n;
}

ssize_t __fd_pwrite(int fd, const void *buf, size_t len, uint64_t offset)
{
	ssize_t n;

	do {
		n = pwrite(fd, buf, len, (off_t)offset);
	} while (n == -1 && errno == EINTR);
	return n == -1 ? -errno : n;
}

int __fd_ftruncate(int fd, uint64_t size)
{
	int ret;

	do {
		ret = ftruncate(fd, (off_t)size);
	} while (ret == -1 && errno == EINTR);
	return ret == -1 ? -errno : 0;
}
