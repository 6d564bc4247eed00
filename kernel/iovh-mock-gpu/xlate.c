// SPDX-License-Identifier: GPL-2.0
/*
 * The stand-in importer's translation step (kernel/iovh-ic-importer/xlate.h)
 * for the mock GPU, following RFC v1 7/8 (xe_bo_xarray_to_dma_addr(),
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
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>

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

static int mgpu_translate(struct pci_dev *importer, const struct range *in,
			  unsigned int n, struct iovh_ic_seg *out)
{
	struct mgpu *m = mgpu_of(importer);
	resource_size_t io_start, lmem_start;
	struct pci_dev *vf;
	unsigned int i;
	int vfid;

	if (!n)
		return -ENODEV;
	if (!m) {
		/*
		 * Not a mock PF (QEMU's ivshmem-plain beside it, whose BAR is RAM
		 * the CPU reaches at its own address): what the stand-in does
		 * without a translation, so one guest serves both.
		 */
		for (i = 0; i < n; i++) {
			out[i].addr = in[i].start;
			out[i].len = range_len(&in[i]);
		}
		return 0;
	}
	if (page_is_ram(PFN_DOWN(in[0].start)))
		return -EOPNOTSUPP;
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
	return 0;
}

static const struct iovh_ic_xlate_ops mgpu_xlate_ops = {
	.owner = THIS_MODULE,
	.id = 0x6d677075,	/* "mgpu" */
	.name = "iovh-mock-gpu (RFC v1 7/8)",
	.translate = mgpu_translate,
};

static void (*set_xlate)(const struct iovh_ic_xlate_ops *ops);

/* Install the translation when the stand-in importer is loaded; no hard dependency. */
void mgpu_xlate_register(void)
{
	set_xlate = symbol_get(iovh_ic_set_xlate);
	if (!set_xlate) {
		pr_info("stand-in importer not loaded: no translation installed\n");
		return;
	}
	set_xlate(&mgpu_xlate_ops);
	pr_info("translation installed in the stand-in importer\n");
}

void mgpu_xlate_unregister(void)
{
	if (!set_xlate)
		return;
	set_xlate(NULL);
	symbol_put(iovh_ic_set_xlate);
	set_xlate = NULL;
}
