/* dma-buf and udmabuf uAPI (include/uapi/linux/dma-buf.h, udmabuf.h of Linux
 * 7.2; docs/kernel.md §10). */
#ifndef IOVH_UAPI_DMA_BUF_H
#define IOVH_UAPI_DMA_BUF_H

#include <stdint.h>
#include "ioctl.h"

struct dma_buf_sync {
	uint64_t flags;
};
IOVH_ASSERT_SIZE(struct dma_buf_sync, 8);

#define DMA_BUF_SYNC_READ (1 << 0)
#define DMA_BUF_SYNC_WRITE (2 << 0)
#define DMA_BUF_SYNC_RW (DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE)
#define DMA_BUF_SYNC_START (0 << 2)
#define DMA_BUF_SYNC_END (1 << 2)
#define DMA_BUF_NAME_LEN 32

#define DMA_BUF_BASE 'b'
#define DMA_BUF_IOCTL_SYNC IOVH_IOW(DMA_BUF_BASE, 0, struct dma_buf_sync)
/* The _B variant (size of a u64) is the one a 64-bit kernel's compat table
 * and every 64-bit userspace use; the argument is the name pointer itself. */
#define DMA_BUF_SET_NAME_B IOVH_IOW(DMA_BUF_BASE, 1, uint64_t)
IOVH_ASSERT_REQ(DMA_BUF_IOCTL_SYNC, 0x40086200);
IOVH_ASSERT_REQ(DMA_BUF_SET_NAME_B, 0x40086201);

struct udmabuf_create {
	uint32_t memfd;
	uint32_t flags;
	uint64_t offset;
	uint64_t size;
};
IOVH_ASSERT_SIZE(struct udmabuf_create, 24);
IOVH_ASSERT_OFF(struct udmabuf_create, flags, 4);
IOVH_ASSERT_OFF(struct udmabuf_create, offset, 8);
IOVH_ASSERT_OFF(struct udmabuf_create, size, 16);

#define UDMABUF_FLAGS_CLOEXEC 0x01
#define UDMABUF_CREATE IOVH_IOW('u', 0x42, struct udmabuf_create)
IOVH_ASSERT_REQ(UDMABUF_CREATE, 0x40187542);

#endif
