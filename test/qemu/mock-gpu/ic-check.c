// SPDX-License-Identifier: GPL-2.0
/*
 * Guest check of the IOV interconnect translation on the mock GPU: the RFC's
 * dma-buf core and vfio half (a patched kernel), iovh's stand-in importer
 * (kernel/iovh-ic-importer) importing on the PF, and the mock GPU's PF driver
 * installing RFC 7/8's translation against the device's block table
 * (kernel/iovh-mock-gpu/xlate.c).
 *
 *   ic-check <PF BDF> <VF1> <VF2> <VF3> <VF4>
 *
 * The machine of scripts/qemu-ci/mock-gpu.mjs: VF 1 holds its whole BAR in
 * blocks 32-47 with the first two swapped, VF 2 nothing, VF 3 1 MiB, VF 4
 * (on the next bus) 3 MiB. Each VF is bound to vfio-pci. For each scenario a
 * VF exports part of its BAR 2 (VFIO_DEVICE_FEATURE_DMA_BUF), the stand-in
 * imports it on the PF offering IOV on BAR 2 and maps it; where it maps
 * through the interconnect, bytes are compared through both sides: the VF's
 * BAR 2 mmap (the truth: the VF's own memory) and the importer's translated
 * addresses (IOVH_IC_RW), at the first and last page of every range.
 *
 * Output: one "IC <scenario> ..." line per scenario with what happened, TAP
 * lines for the facts checked, and "IC-CHECK PASS|FAIL". A check passes when
 * the kernel does what RFC v1 7/8 does (the quirk is seen), as the rfc-v1
 * model predicts.
 */
#include <stdint.h>
#include <sys/mman.h>

#define CHECK_NAME "IC-CHECK"
#include "check.h"
#include "iovh_ic.h"

#define PAGE 4096ull
#define MiB (1ull << 20)
#define BAR_SIZE (16 * MiB)

#ifndef VFIO_DEVICE_FEATURE_DMA_BUF
#define VFIO_DEVICE_FEATURE_DMA_BUF 11
#endif

struct dma_range {
	uint64_t offset, length;
};

struct feature_dma_buf {
	struct vfio_device_feature hdr;
	uint32_t region_index, open_flags, flags, nr_ranges;
	struct dma_range ranges[4];
};

struct vf {
	const char *bdf;
	int device;
	volatile uint8_t *bar2;
};

static int ic;
static unsigned int pf_bus, pf_devfn, pf_domain;

static void open_vf(struct vf *v)
{
	struct vfio_region_info reg = { .argsz = sizeof(reg), .index = VFIO_PCI_BAR2_REGION_INDEX };
	void *map;

	v->device = vfio_open_device(v->bdf);
	if (ioctl(v->device, VFIO_DEVICE_GET_REGION_INFO, &reg))
		die("VFIO device");
	map = mmap(NULL, reg.size, PROT_READ | PROT_WRITE, MAP_SHARED, v->device, reg.offset);
	if (map == MAP_FAILED)
		die("mmap VF BAR 2");
	v->bar2 = map;
}

static int export(struct vf *v, const struct dma_range *r, unsigned int n)
{
	struct feature_dma_buf f = { 0 };

	f.hdr.argsz = sizeof(f.hdr) + 16 + n * sizeof(*r);
	f.hdr.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	f.region_index = VFIO_PCI_BAR2_REGION_INDEX;
	f.open_flags = O_RDWR | O_CLOEXEC;
	f.nr_ranges = n;
	memcpy(f.ranges, r, n * sizeof(*r));
	return ioctl(v->device, VFIO_DEVICE_FEATURE, &f);
}

static uint8_t pat(uint64_t seed, uint64_t i)
{
	uint64_t x = (seed + i) * 0x9e3779b97f4a7c15ull;

	return (uint8_t)(x >> 56);
}

/* What happened to one import. */
struct outcome {
	uint32_t handle, negotiated, path;
	int32_t ic_error;
	int map_errno; /* IOVH_IC_MAP failed as a whole (the fallback did not map either) */
};

static struct outcome import_map(int fd)
{
	struct iovh_ic_import imp = {
		.fd = fd, .flags = IOVH_IC_IMPORT_XE, .segment = pf_domain, .bus = pf_bus, .devfn = pf_devfn, .bar = 2,
	};
	struct iovh_ic_map map = { 0 };
	struct outcome o = { 0 };

	if (ioctl(ic, IOVH_IC_IMPORT, &imp))
		die("IOVH_IC_IMPORT");
	o.handle = imp.handle;
	o.negotiated = imp.negotiated;
	map.handle = imp.handle;
	if (ioctl(ic, IOVH_IC_MAP, &map)) {
		o.map_errno = errno;
		o.path = IOVH_IC_PATH_NONE;
		return o;
	}
	o.path = map.path;
	o.ic_error = map.ic_error;
	return o;
}

static void release(struct outcome *o)
{
	struct iovh_ic_release r = { .handle = o->handle };

	ioctl(ic, IOVH_IC_RELEASE, &r);
}

static int ic_rw(uint32_t handle, uint32_t op, uint64_t off, void *buf, uint64_t len)
{
	struct iovh_ic_rw rw = { .handle = handle, .op = op, .offset = off, .len = len, .buf_ptr = (uintptr_t)buf };

	return ioctl(ic, IOVH_IC_RW, &rw) ? -errno : 0;
}

/*
 * Compare one page: dma-buf offset @off through the importer against VF BAR 2
 * offset @bar_off through the VF's mmap, both directions. Returns 1 when both
 * agree, 0 when the importer reached other memory, -errno when it could not.
 */
static int same_page(struct outcome *o, struct vf *v, uint64_t off, uint64_t bar_off, uint64_t seed)
{
	static uint8_t buf[PAGE];
	volatile uint8_t *p = v->bar2 + bar_off;
	int ret, same = 1;

	for (uint64_t i = 0; i < PAGE; i++)
		p[i] = pat(seed, i);
	ret = ic_rw(o->handle, IOVH_IC_RW_READ, off, buf, PAGE);
	if (ret)
		return ret;
	for (uint64_t i = 0; i < PAGE; i++)
		same &= buf[i] == pat(seed, i);
	for (uint64_t i = 0; i < PAGE; i++)
		buf[i] = pat(seed + 7, i);
	ret = ic_rw(o->handle, IOVH_IC_RW_WRITE, off, buf, PAGE);
	if (ret)
		return ret;
	for (uint64_t i = 0; i < PAGE; i++)
		same &= p[i] == pat(seed + 7, i);
	return same;
}

static const char *path_name(uint32_t p)
{
	return p == IOVH_IC_PATH_IOV ? "iov" : p == IOVH_IC_PATH_SG ? "sg" : "none";
}

static void report(const char *name, struct vf *v, struct outcome *o)
{
	printf("IC %s vf=%s negotiated=%u path=%s ic_error=%d map=%s\n", name, v->bdf, o->negotiated,
	       path_name(o->path), o->ic_error, o->map_errno ? strerror(o->map_errno) : "ok");
}

/* Export, import and map @r on @v; the outcome is reported under @name. */
static struct outcome scenario(const char *name, struct vf *v, const struct dma_range *r, unsigned int n)
{
	struct outcome o;
	int fd = export(v, r, n);

	if (fd < 0)
		die("VFIO_DEVICE_FEATURE_DMA_BUF");
	o = import_map(fd);
	close(fd);
	report(name, v, &o);
	result(o.negotiated, "%s: the import on the PF negotiated IOV (BAR 2)", name);
	return o;
}

int main(int argc, char **argv)
{
	struct vf vf[4];
	struct iovh_ic_version ver;
	unsigned int slot, func;
	int r;

	if (argc != 6) {
		fprintf(stderr, "usage: ic-check PF VF1 VF2 VF3 VF4\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sscanf(argv[1], "%x:%x:%x.%x", &pf_domain, &pf_bus, &slot, &func) != 4)
		die("PF BDF");
	pf_devfn = slot << 3 | func;
	ic = open(IOVH_IC_DEVICE, O_RDWR);
	if (ic < 0)
		die(IOVH_IC_DEVICE);
	if (ioctl(ic, IOVH_IC_VERSION, &ver))
		die("IOVH_IC_VERSION");
	printf("# stand-in importer: abi %u api %u keep %u xlate %#x\n", ver.abi, ver.api, ver.keep, ver.xlate);
	result(ver.xlate == 0x6d677075, "the mock GPU's translation is installed in the importer (xlate %#x)", ver.xlate);
	for (int i = 0; i < 4; i++) {
		vf[i].bdf = argv[2 + i];
		open_vf(&vf[i]);
	}

	{
		/* Control: the page before the last, translated, same bytes both ways. */
		struct dma_range rg = { BAR_SIZE - 2 * PAGE, PAGE };
		struct outcome o = scenario("edge/last-page.control", &vf[0], &rg, 1);

		r = o.path == IOVH_IC_PATH_IOV ? same_page(&o, &vf[0], 0, rg.offset, 1) : -1;
		result(o.path == IOVH_IC_PATH_IOV && r == 1,
		       "edge/last-page.control: BAR 2 offset %#llx translated, VF and importer see the same bytes (%d)",
		       (unsigned long long)rg.offset, r);
		release(&o);
	}
	{
		/* RFC quirk 1: the owner search stops one page short of the end of BAR 2. */
		struct dma_range rg = { BAR_SIZE - PAGE, PAGE };
		struct outcome o = scenario("edge/last-page", &vf[0], &rg, 1);

		result(o.path != IOVH_IC_PATH_IOV,
		       "edge/last-page: the last page finds no owner VF (RFC quirk 1): not translated (path %s, "
		       "ic_error %d, map %s)",
		       path_name(o.path), o.ic_error, o.map_errno ? strerror(o.map_errno) : "ok");
		release(&o);
	}
	{
		/* RFC quirk 5: the owner search walks the PF's bus only. */
		struct dma_range rg = { 0, PAGE };
		struct outcome o = scenario("edge/vf-next-bus", &vf[3], &rg, 1);

		result(o.path != IOVH_IC_PATH_IOV,
		       "edge/vf-next-bus: VF %s on the next bus is not found (RFC quirk 5): not translated (path %s, "
		       "ic_error %d, map %s)",
		       vf[3].bdf, path_name(o.path), o.ic_error, o.map_errno ? strerror(o.map_errno) : "ok");
		release(&o);
	}
	{
		/* RFC quirk 7: a 3-page range becomes order 2 (4 pages); range 2 is read where range 1's 4th page is. */
		struct dma_range rg[2] = { { 0, 3 * PAGE }, { MiB, PAGE } };
		struct outcome o = scenario("edge/npot-ranges", &vf[0], rg, 2);
		int first = -1, second = -1;

		if (o.path == IOVH_IC_PATH_IOV) {
			first = same_page(&o, &vf[0], 0, 0, 3);
			second = same_page(&o, &vf[0], 3 * PAGE, MiB, 4);
		}
		result(first == 1, "edge/npot-ranges: range 1 translated, same bytes (%d)", first);
		result(second == 0,
		       "edge/npot-ranges: range 2 through the importer is not the VF's offset 0x100000 (RFC quirk 7: "
		       "order from length) (%d)",
		       second);
		release(&o);
	}
	{
		/* RFC quirk 8: one range over VF slots 0 and 1 (PF blocks 33 and 32), assumed contiguous. */
		struct dma_range rg = { MiB - PAGE, 2 * PAGE };
		struct outcome o = scenario("edge/lmem-discontiguous", &vf[0], &rg, 1);
		int first = -1, second = -1;

		if (o.path == IOVH_IC_PATH_IOV) {
			first = same_page(&o, &vf[0], 0, MiB - PAGE, 5);
			second = same_page(&o, &vf[0], PAGE, MiB, 6);
		}
		result(first == 1, "edge/lmem-discontiguous: the page before the block boundary is the VF's (%d)", first);
		result(second == 0,
		       "edge/lmem-discontiguous: the page after it is not (RFC quirk 8: contiguity assumed) (%d)", second);
		release(&o);
	}
	{
		/* RFC quirk 4: a VF with no LMEM; RFC v1 dereferences the NULL object, the stand-in refuses. */
		struct dma_range rg = { 0, PAGE };
		struct outcome o = scenario("edge/unprovisioned-vf", &vf[1], &rg, 1);

		result(o.path != IOVH_IC_PATH_IOV,
		       "edge/unprovisioned-vf: no translation for a VF without LMEM (RFC quirk 4 averted): path %s, "
		       "ic_error %d, map %s",
		       path_name(o.path), o.ic_error, o.map_errno ? strerror(o.map_errno) : "ok");
		release(&o);
	}
	{
		/* Past VF 3's 1 MiB quota: translated past its last block, into memory that is not the VF's. */
		struct dma_range rg = { 2 * MiB, PAGE };
		struct outcome o = scenario("edge/beyond-quota", &vf[2], &rg, 1);

		r = o.path == IOVH_IC_PATH_IOV ? same_page(&o, &vf[2], 0, rg.offset, 8) : -1;
		result(o.path == IOVH_IC_PATH_IOV && r == 0,
		       "edge/beyond-quota: BAR 2 offset 0x200000 (past the quota) translated (%s) to memory the VF does "
		       "not see there (%d)",
		       path_name(o.path), r);
		release(&o);
	}

	printf("1..%d\nIC-CHECK %s\n", tests, failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}
