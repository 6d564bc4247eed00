// SPDX-License-Identifier: GPL-2.0
/*
 * Guest check of iovh's mock SR-IOV GPU (QEMU iovh-mock-gpu, PF driver
 * kernel/iovh-mock-gpu): a VF's BAR 2 shows the PF's LMEM blocks its table
 * names, in slot order, and nothing else.
 *
 *   lmem-check <PF BDF> <VF BDF> <VF id, 1-based>
 *
 * The VF must be bound to vfio-pci, the PF to iovh_mock_gpu. The PF's BAR 2
 * is reached through sysfs (resource2 mmap), the VF's through VFIO (legacy
 * group/container, type1): the path a user of the VFIO dma-buf export takes.
 * For each slot the table backs, bytes written through the PF at that block's
 * first and last page are read back through the VF's window at the slot's,
 * and the reverse; a slot the table leaves empty reads all ones and drops
 * writes. Then the check re-provisions the VF through lmem_blocks (one block
 * fewer, the first two swapped) and checks the window followed.
 *
 * Output: TAP lines, then "LMEM-CHECK PASS" or "LMEM-CHECK FAIL".
 */
#include <stdint.h>
#include <sys/mman.h>

#define CHECK_NAME "LMEM-CHECK"
#include "check.h"

#define PAGE 4096u
#define MAX_SLOTS 4096

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* The PF blocks behind the VF, in slot order. */
static int read_blocks(const char *pf, unsigned int vfid, unsigned int *out)
{
	char path[256], buf[4 * MAX_SLOTS], *p = buf, *end;
	int n = 0;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/sriov_admin/vf%u/lmem_blocks", pf, vfid);
	if (read_file(path, buf, sizeof(buf)))
		die(path);
	for (;;) {
		unsigned long v = strtoul(p, &end, 10);

		if (end == p)
			break;
		out[n++] = v;
		p = end;
	}
	return n;
}

static uint64_t pattern(uint64_t seed, uint64_t off)
{
	uint64_t x = seed ^ (off * 0x9e3779b97f4a7c15ull);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

static void fill(volatile uint64_t *p, uint64_t seed, size_t bytes)
{
	for (size_t i = 0; i < bytes / 8; i++)
		p[i] = pattern(seed, i);
}

/* Index of the first word that differs, or -1. */
static long compare(volatile uint64_t *p, uint64_t seed, size_t bytes)
{
	for (size_t i = 0; i < bytes / 8; i++)
		if (p[i] != pattern(seed, i))
			return (long)i;
	return -1;
}

static long all_ones(volatile uint64_t *p, size_t bytes)
{
	for (size_t i = 0; i < bytes / 8; i++)
		if (p[i] != ~0ull)
			return (long)i;
	return -1;
}

struct geometry {
	unsigned long long lmem, vf_lmem;
	unsigned int block, blocks, slots, total_vfs;
};

static volatile uint8_t *vf_bar2(const char *vf, uint64_t *size)
{
	struct vfio_region_info reg = { .argsz = sizeof(reg), .index = VFIO_PCI_BAR2_REGION_INDEX };
	int device = vfio_open_device(vf);
	void *map;

	if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &reg))
		die("VFIO_DEVICE_GET_REGION_INFO");
	result(reg.size != 0 && (reg.flags & VFIO_REGION_INFO_FLAG_MMAP), "VF %s BAR 2: %llu bytes, mmap-able (flags 0x%x)",
	       vf, (unsigned long long)reg.size, reg.flags);
	map = mmap(NULL, reg.size, PROT_READ | PROT_WRITE, MAP_SHARED, device, reg.offset);
	if (map == MAP_FAILED)
		die("mmap of the VF's BAR 2 through VFIO");
	*size = reg.size;
	return map;
}

static volatile uint8_t *pf_bar2(const char *pf, uint64_t size)
{
	char path[256];
	int fd;
	void *map;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource2", pf);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		die(path);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap of the PF's BAR 2 (resource2)");
	return map;
}

/* Both directions at the first and last page of each slot; empty slots read all ones. */
static void check_window(const char *label, volatile uint8_t *pf, volatile uint8_t *vf, const struct geometry *g,
			 const unsigned int *blocks, int n, uint64_t seed)
{
	for (unsigned int slot = 0; slot < g->slots; slot++) {
		uint64_t vo = (uint64_t)slot * g->block;

		if ((int)slot >= n) {
			volatile uint64_t *v = (volatile uint64_t *)(vf + vo);
			long bad;

			v[0] = 0x1234;
			bad = all_ones(v, PAGE);
			result(bad < 0, "%s: slot %u (no block) reads all ones after a write%s", label, slot,
			       bad < 0 ? "" : " (it does not)");
			continue;
		}
		for (int last = 0; last < 2; last++) {
			uint64_t in = last ? g->block - PAGE : 0;
			volatile uint64_t *p = (volatile uint64_t *)(pf + (uint64_t)blocks[slot] * g->block + in);
			volatile uint64_t *v = (volatile uint64_t *)(vf + vo + in);
			uint64_t s1 = seed ^ (slot * 4 + last * 2), s2 = s1 ^ 1;
			long bad;

			fill(p, s1, PAGE);
			bad = compare(v, s1, PAGE);
			result(bad < 0, "%s: PF block %u %s page -> VF slot %u: %s", label, blocks[slot], last ? "last" : "first",
			       slot, bad < 0 ? "same bytes" : "differ");
			fill(v, s2, PAGE);
			bad = compare(p, s2, PAGE);
			result(bad < 0, "%s: VF slot %u %s page -> PF block %u: %s", label, slot, last ? "last" : "first",
			       blocks[slot], bad < 0 ? "same bytes" : "differ");
		}
	}
}

int main(int argc, char **argv)
{
	struct geometry g;
	unsigned int blocks[MAX_SLOTS], vfid;
	char path[256], buf[512], list[4 * MAX_SLOTS];
	volatile uint8_t *pf, *vf;
	uint64_t vf_size;
	int n, ret;

	if (argc != 4) {
		fprintf(stderr, "usage: lmem-check PF-BDF VF-BDF VF-ID\n");
		return 2;
	}
	vfid = strtoul(argv[3], NULL, 10);
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/sriov_admin/geometry", argv[1]);
	if (read_file(path, buf, sizeof(buf)) ||
	    sscanf(buf, "lmem %llu block %u blocks %u vf_lmem %llu slots %u total_vfs %u", &g.lmem, &g.block, &g.blocks,
		   &g.vf_lmem, &g.slots, &g.total_vfs) != 6)
		die(path);
	if (g.slots > MAX_SLOTS)
		die("too many slots");
	printf("# PF %s: %s", argv[1], buf);
	pf = pf_bar2(argv[1], g.lmem);
	vf = vf_bar2(argv[2], &vf_size);
	result(vf_size == g.vf_lmem, "VF BAR 2 size %llu is the device's vf-lmem-size %llu", (unsigned long long)vf_size,
	       g.vf_lmem);

	n = read_blocks(argv[1], vfid, blocks);
	printf("# VF%u %s: %d blocks\n", vfid, argv[2], n);
	check_window("as provisioned", pf, vf, &g, blocks, n, 0x1000 + vfid);

	/* Re-provision: the first two blocks swapped, the last dropped. */
	if (n >= 2) {
		unsigned int t = blocks[0];
		int len = 0;

		blocks[0] = blocks[1];
		blocks[1] = t;
		n--;
		for (int i = 0; i < n; i++)
			len += snprintf(list + len, sizeof(list) - len, "%s%u", i ? " " : "", blocks[i]);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/sriov_admin/vf%u/lmem_blocks", argv[1], vfid);
		ret = write_file(path, list);
		result(ret == 0, "lmem_blocks <- '%s': %s", list, ret ? strerror(-ret) : "ok");
		n = read_blocks(argv[1], vfid, blocks);
		check_window("re-provisioned", pf, vf, &g, blocks, n, 0x2000 + vfid);
	}

	printf("1..%d\nLMEM-CHECK %s\n", tests, failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}
