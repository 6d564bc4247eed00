/* memfd_create(2) and its seals (udmabuf needs F_SEAL_SHRINK, drivers/dma-buf/udmabuf.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "iovh.h"

int __memfd_create(const char *name, unsigned int flags)
{
	int fd = memfd_create(name, flags);

	return fd == -1 ? -errno : fd;
}

int __memfd_add_seals(int fd, int seals)
{
	return fcntl(fd, F_ADD_SEALS, seals) == -1 ? -errno : 0;
}
