/* dma-buf core calls (include/uapi/linux/dma-buf.h; docs/kernel.md §10). */
#include "iovh.h"
#include "sys.h"

/* The argument is the name pointer itself; the kernel copies at most
 * DMA_BUF_NAME_LEN bytes with strndup_user (drivers/dma-buf/dma-buf.c). */
int __dma_buf_set_name(int fd, const char *name)
{
	return iovh_ioctl(fd, DMA_BUF_SET_NAME_B, (void *)name);
}

int __dma_buf_sync(int fd, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags };

	return iovh_ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
}
