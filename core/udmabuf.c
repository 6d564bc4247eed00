/* udmabuf (/dev/udmabuf; include/uapi/linux/udmabuf.h): a dma-buf over memfd
 * pages, the system-memory control exporter. Returns the new dma-buf fd. */
#include "iovh.h"
#include "sys.h"

int __udmabuf_create(int fd, struct udmabuf_create *create)
{
	return iovh_ioctl(fd, UDMABUF_CREATE, create);
}
