/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the mock GPU's guest checks (lmem-check.c; ic-check.c until the catalog took it over) share: TAP
 * result lines, a bail-out that ends the check with its verdict line, and a
 * VF's VFIO device opened the legacy way, through its IOMMU group and a type1
 * container (Documentation/driver-api/vfio.rst, "VFIO Usage Example").
 *
 * Define CHECK_NAME (the verdict line's tag: "IC-CHECK", "LMEM-CHECK")
 * before including this file.
 */
#ifndef IOVH_MOCK_GPU_CHECK_H
#define IOVH_MOCK_GPU_CHECK_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vfio.h>

#ifndef CHECK_NAME
#error "define CHECK_NAME before including check.h"
#endif

static int failures, tests;

static void result(int ok, const char *fmt, ...)
{
	va_list ap;

	tests++;
	if (!ok)
		failures++;
	printf("%s %d - ", ok ? "ok" : "not ok", tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void die(const char *what)
{
	printf("Bail out! %s: %s\n" CHECK_NAME " FAIL\n", what, strerror(errno));
	exit(1);
}

/* The VFIO device fd of the VF at @bdf, which must be bound to vfio-pci. */
static int vfio_open_device(const char *bdf)
{
	char path[256], link[256];
	struct vfio_group_status status = { .argsz = sizeof(status) };
	int container, group, device;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		die(path);
	link[n] = 0;
	container = open("/dev/vfio/vfio", O_RDWR);
	if (container < 0)
		die("/dev/vfio/vfio");
	snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);
	group = open(path, O_RDWR);
	if (group < 0)
		die(path);
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) || !(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		die("VFIO group not viable");
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container))
		die("VFIO_GROUP_SET_CONTAINER");
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		die("VFIO_SET_IOMMU");
	device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (device < 0)
		die("VFIO_GROUP_GET_DEVICE_FD");
	return device;
}

#endif /* IOVH_MOCK_GPU_CHECK_H */
