// SPDX-License-Identifier: GPL-2.0
/*
 * The stand-in importer's translation step (kernel/iovh-ic-importer/xlate.h)
 * for the mock GPU, in one of two forms, chosen when the module loads
 * (parameter translation=rfc-v1|fixed):
 *
 * rfc-v1 (the default) follows RFC v1 7/8 (xe_bo_xarray_to_dma_addr(),
 * xe_find_vf_dev(), xe_bo_translate_io_xarray_to_dpa()) against this
 * device's block table instead of xe's LMEM objects, quirks included:
 *
 *  - only the first range picks the owning VF;
 *  - the owner is searched among the devices of the PF's own bus only (a VF
 *    on the next bus is not found, RFC quirk 5), and a range starting in the
 *    last page of a VF's BAR 2 matches no VF (quirk 1);
 *  - each range's offset into the VF's BAR 2 is looked up in the VF's LMEM
 *    at the block holding its first byte, and the range is then assumed
 *    contiguous from there (quirk 8: past a block boundary it reaches the
 *    PF block physically after, not the VF's next block);
 *  - its length becomes PAGE_SIZE << get_order(length) (the order xe
 *    encodes with drm_pagemap_addr_encode(); quirk 7 for lengths that are not
 *    a power-of-two number of pages).
 *
 * Where RFC v1 goes on with no translation (no VF found: it returns 0 and
 * leaves the BO with neither addresses nor an sg table, quirk 2) or
 * dereferences a NULL LMEM object (an unprovisioned VF, quirk 4), this step
 * cannot do the same in a stand-in without corrupting the guest: it returns
 * an error naming the quirk in the kernel log, and the importer falls back to
 * the scatter-gather path, as RFC v2 does. An offset past the VF's LMEM
 * (past its quota) is translated past the VF's last block, as xe_bo_addr()
 * walks past the end of the object's blocks; it is logged too.
 *
 * fixed is the same step with each of those corrected: every range finds its
 * own owner among all the VFs of this PF, wherever their routing IDs put
 * them (quirk 5), over the whole of their BAR 2 (quirk 1), and must be owned
 * by the same VF as the first (quirk 3; RFC v2's cross-VF check, EPERM); a
 * range must lie inside the VF's LMEM (its quota: EINVAL past it); it is
 * walked block by block through the VF's table (quirk 8), one segment per
 * run of physically adjacent blocks, with its exact length (quirk 7); no
 * owner (ENOENT) or no LMEM (ENXIO) refuses, and the importer falls back to
 * scatter-gather. That is the translation the `fixed` profile of iovh's mock
 * models (src/mock/mock-gpu.ts).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "mgpu.h"
#include "xlate.h"

/* xe_find_vf_dev(): VFs on the PF's bus only; the last page of BAR 2 excluded. */
static struct pci_dev *rfc_find_vf_dev(struct pci_dev *pf, phys_addr_t phys)
{
	struct pci_dev *pdev;

	list_for_each_entry(pdev, &pf->bus->devices, bus_list) {
		resource_size_t start, size;

		if (pdev->is_physfn)
			continue;
		start = pci_resource_start(pdev, MGPU_LMEM_BAR);
		size = pci_resource_len(pdev, MGPU_LMEM_BAR);
		if (phys >= start && phys < start + size - PAGE_SIZE)
			return pdev;
	}
	return NULL;
}

/*
 * Not a mock PF (QEMU's ivshmem-plain beside it, whose BAR is RAM the CPU
 * reaches at its own address): what the stand-in does without a
 * translation, so one guest serves both.
 */
static int identity(const struct range *in, unsigned int n, struct iovh_ic_seg *out)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		out[i].addr = in[i].start;
		out[i].len = range_len(&in[i]);
	}
	return n;
}

/* RFC v1 7/8, quirks included: one segment per range. */
static int rfc_translate(struct pci_dev *importer, struct mgpu *m, const struct range *in,
			 unsigned int n, struct iovh_ic_seg *out)
{
	resource_size_t io_start, lmem_start;
	struct pci_dev *vf;
	unsigned int i;
	int vfid;

	vf = rfc_find_vf_dev(importer, in[0].start);
	if (!vf) {
		pci_warn(importer, "RFC 7/8: no VF on bus %02x owns %pa (a VF on another bus, RFC quirk 5, or its BAR 2's last page, quirk 1); RFC v1 leaves the import untranslated here (quirk 2)\n",
			 importer->bus->number, &in[0].start);
		return -ENOENT;
	}
	vfid = pci_iov_vf_id(vf);
	if (vfid < 0)
		return -ENOENT;
	io_start = pci_resource_start(vf, MGPU_LMEM_BAR);
	lmem_start = pci_resource_start(importer, MGPU_LMEM_BAR);

	guard(mutex)(&m->lock);
	if (!m->nr[vfid]) {
		pci_warn(importer, "RFC 7/8: VF%d (%s) has no LMEM; RFC v1 dereferences the NULL LMEM object here (quirk 4)\n",
			 vfid + 1, pci_name(vf));
		return -ENXIO;
	}
	for (i = 0; i < n; i++) {
		u64 offset = in[i].start - io_start;	/* every range against the first's VF */
		u64 len = range_len(&in[i]);
		u64 slot = offset / m->block_size;
		u32 block;

		if (slot < m->nr[vfid]) {
			block = m->blocks[vfid * m->slots + slot];
		} else {
			/* xe_bo_addr() past the object: the blocks after its last one. */
			block = m->blocks[vfid * m->slots + m->nr[vfid] - 1] +
				(slot - m->nr[vfid] + 1);
			pci_warn(importer, "RFC 7/8: range %u at VF%d BAR 2 offset %#llx is past its %u blocks of LMEM (beyond quota); translated to PF block %u\n",
				 i, vfid + 1, offset, m->nr[vfid], block);
		}
		out[i].addr = lmem_start + (u64)block * m->block_size +
			      offset % m->block_size;
		out[i].len = PAGE_SIZE << get_order(len);
	}
	return n;
}

/*
 * The owner of @phys among the VFs of @pf, wherever they are (every VF whose
 * physfn is @pf, not only the devices on the PF's bus), over its whole BAR 2.
 * Returns the VF with a reference held, or NULL.
 */
static struct pci_dev *fixed_find_vf_dev(struct pci_dev *pf, phys_addr_t phys)
{
	struct pci_dev *pdev = NULL;

	for_each_pci_dev(pdev) {
		resource_size_t start, size;

		if (!pdev->is_virtfn || pci_physfn(pdev) != pf)
			continue;
		start = pci_resource_start(pdev, MGPU_LMEM_BAR);
		size = pci_resource_len(pdev, MGPU_LMEM_BAR);
		if (size && phys >= start && phys - start < size)
			return pdev;	/* for_each_pci_dev's reference, now the caller's */
	}
	return NULL;
}

/* Every range checked and walked block by block: as many segments as runs of adjacent blocks. */
static int fixed_translate(struct pci_dev *importer, struct mgpu *m, const struct range *in,
			   unsigned int n, struct iovh_ic_seg **out)
{
	resource_size_t io_start, lmem_start = pci_resource_start(importer, MGPU_LMEM_BAR);
	struct iovh_ic_seg *seg;
	unsigned int i, nr = 0, room = n;
	struct pci_dev *owner;
	int vfid, ret;

	owner = fixed_find_vf_dev(importer, in[0].start);
	if (!owner) {
		pci_warn(importer, "RFC 7/8 (fixed): no VF of this PF owns %pa: refused\n", &in[0].start);
		return -ENOENT;
	}
	vfid = pci_iov_vf_id(owner);
	io_start = pci_resource_start(owner, MGPU_LMEM_BAR);
	for (i = 1; i < n; i++) {
		struct pci_dev *vf = fixed_find_vf_dev(importer, in[i].start);

		pci_dev_put(vf);
		if (vf != owner) {
			pci_warn(importer, "RFC 7/8 (fixed): range %u (%pa) is not in the BAR 2 of VF%d, which owns range 0: refused\n",
				 i, &in[i].start, vfid + 1);
			pci_dev_put(owner);
			return -EPERM;
		}
	}

	guard(mutex)(&m->lock);
	if (vfid < 0 || !m->nr[vfid]) {
		pci_warn(importer, "RFC 7/8 (fixed): VF%d (%s) has no LMEM: refused\n", vfid + 1, pci_name(owner));
		ret = -ENXIO;
		goto out_put;
	}
	for (i = 0; i < n; i++) {
		u64 offset = in[i].start - io_start;

		if (offset + range_len(&in[i]) > (u64)m->nr[vfid] * m->block_size) {
			pci_warn(importer, "RFC 7/8 (fixed): range %u at VF%d BAR 2 offset %#llx, %#llx bytes, is past its %u blocks of LMEM: refused\n",
				 i, vfid + 1, offset, range_len(&in[i]), m->nr[vfid]);
			ret = -EINVAL;
			goto out_put;
		}
		/* A range that crosses k block boundaries needs at most k + 1 segments. */
		room += (offset % m->block_size + range_len(&in[i]) - 1) / m->block_size;
	}
	seg = kvcalloc(room, sizeof(*seg), GFP_KERNEL);
	ret = -ENOMEM;
	if (!seg)
		goto out_put;
	for (i = 0; i < n; i++) {
		u64 offset = in[i].start - io_start, left = range_len(&in[i]);

		while (left) {
			u64 in_block = m->block_size - offset % m->block_size;
			u64 len = min(left, in_block);
			phys_addr_t addr = lmem_start +
				(u64)m->blocks[vfid * m->slots + offset / m->block_size] * m->block_size +
				offset % m->block_size;

			/* Within one range, a piece that follows the last one in the PF's LMEM extends it. */
			if (nr && seg[nr - 1].addr + seg[nr - 1].len == addr && left != range_len(&in[i]))
				seg[nr - 1].len += len;
			else
				seg[nr++] = (struct iovh_ic_seg){ .addr = addr, .len = len };
			offset += len;
			left -= len;
		}
	}
	*out = seg;
	ret = nr;
out_put:
	pci_dev_put(owner);
	return ret;
}

static bool fixed;

static int mgpu_translate(struct pci_dev *importer, const struct range *in,
			  unsigned int n, struct iovh_ic_seg **out)
{
	struct mgpu *m = mgpu_of(importer);
	struct iovh_ic_seg *seg;
	int ret;

	if (!n)
		return -ENODEV;
	if (m && page_is_ram(PFN_DOWN(in[0].start)))
		return -EOPNOTSUPP;
	if (m && fixed)
		return fixed_translate(importer, m, in, n, out);
	seg = kvcalloc(n, sizeof(*seg), GFP_KERNEL);
	if (!seg)
		return -ENOMEM;
	ret = m ? rfc_translate(importer, m, in, n, seg) : identity(in, n, seg);
	if (ret < 0) {
		kvfree(seg);
		return ret;
	}
	*out = seg;
	return ret;
}

static const struct iovh_ic_xlate_ops rfc_v1_ops = {
	.owner = THIS_MODULE,
	.id = 0x6d677075,	/* "mgpu" */
	.name = "iovh-mock-gpu (RFC v1 7/8)",
	.translate = mgpu_translate,
};

static const struct iovh_ic_xlate_ops fixed_ops = {
	.owner = THIS_MODULE,
	.id = 0x6d677066,	/* "mgpf" */
	.name = "iovh-mock-gpu (RFC 7/8, quirks corrected)",
	.translate = mgpu_translate,
};

static int translation_set(const char *val, const struct kernel_param *kp)
{
	if (sysfs_streq(val, "rfc-v1"))
		fixed = false;
	else if (sysfs_streq(val, "fixed"))
		fixed = true;
	else
		return -EINVAL;
	return 0;
}

static int translation_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", fixed ? "fixed" : "rfc-v1");
}

static const struct kernel_param_ops translation_ops = {
	.set = translation_set,
	.get = translation_get,
};
/* Read-only once loaded: an import keeps the translation it was made with; reload the module to change it. */
module_param_cb(translation, &translation_ops, NULL, 0444);
MODULE_PARM_DESC(translation, "rfc-v1 (default: RFC v1 7/8 as posted, quirks included) or fixed (each quirk corrected)");

static void (*set_xlate)(const struct iovh_ic_xlate_ops *ops);

/* Install the translation when the stand-in importer is loaded; no hard dependency. */
void mgpu_xlate_register(void)
{
	set_xlate = symbol_get(iovh_ic_set_xlate);
	if (!set_xlate) {
		pr_info("stand-in importer not loaded: no translation installed\n");
		return;
	}
	set_xlate(fixed ? &fixed_ops : &rfc_v1_ops);
	pr_info("translation %s installed in the stand-in importer\n", fixed ? "fixed" : "rfc-v1");
}

void mgpu_xlate_unregister(void)
{
	if (!set_xlate)
		return;
	set_xlate(NULL);
	symbol_put(iovh_ic_set_xlate);
	set_xlate = NULL;
}
