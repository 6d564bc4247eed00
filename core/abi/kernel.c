/* The ABI list evaluated against the kernel's uapi headers (linux-libc-dev,
 * found through -isystem). A name we define that the kernel does not is a
 * compile error here, which abi-check reports as a failure. */
#define _GNU_SOURCE /* O_CLOEXEC, which DRM_CLOEXEC is */
#include <fcntl.h>
#include <sys/mman.h>
#include <linux/dma-buf.h>
#include <linux/iommufd.h>
#include <linux/udmabuf.h>
#include <linux/vfio.h>
#include <drm/drm.h>
#include <drm/xe_drm.h>

#include "abi.h"

const struct abi_entry abi_kernel[] = {
#include "abi-list.h"
};
const unsigned abi_kernel_count = sizeof(abi_kernel) / sizeof(abi_kernel[0]);

const struct abi_entry abi_extra[] = {
#include "extra.h"
};
const unsigned abi_extra_count = sizeof(abi_extra) / sizeof(abi_extra[0]);
