/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The translation step of the stand-in importer, kept apart from the
 * importer itself: xe translates the interconnect ranges (VF BAR addresses)
 * into its own device addresses before it uses them (RFC 7/8,
 * xe_bo_xarray_to_dma_addr()); the stand-in's CPU access goes through
 * whatever this step returns. The built-in translation is the identity (a
 * range address is a CPU physical address of the exporter's BAR, as it is
 * for QEMU's ivshmem). Another module, a driver for an emulated device with
 * its own memory behind the BAR, can install its own with
 * iovh_ic_set_xlate().
 */
#ifndef IOVH_IC_XLATE_H
#define IOVH_IC_XLATE_H

#include <linux/pci.h>
#include <linux/range.h>

/* One translated range: where the CPU reaches it, and its length. */
struct iovh_ic_seg {
	phys_addr_t addr;
	u64 len;
};

struct iovh_ic_xlate_ops {
	/* The module providing it: held while an import uses its translation. */
	struct module *owner;
	/* Reported by IOVH_IC_VERSION; 0 is the built-in identity. */
	u32 id;
	const char *name;
	/*
	 * Translate @n ranges the exporter handed to @importer into segments,
	 * in order: *@out is an array the step allocated with kvcalloc() (the
	 * importer kvfree()s it) and the return value its number of segments.
	 * There may be more segments than ranges: a range over device memory
	 * made of blocks becomes one segment per piece, as xe's translation of
	 * a BO in several VRAM blocks yields one address per piece. A negative
	 * errno makes the importer fall back to the scatter-gather path, as xe
	 * does when its translation fails.
	 */
	int (*translate)(struct pci_dev *importer, const struct range *in,
			 unsigned int n, struct iovh_ic_seg **out);
};

/*
 * Install @ops for the maps that follow; NULL restores the identity. Imports
 * that already translated keep the translation they used (and a reference on
 * its module) until they drop their ranges.
 */
void iovh_ic_set_xlate(const struct iovh_ic_xlate_ops *ops);

/* The translation to use now, with a reference on its module. */
const struct iovh_ic_xlate_ops *iovh_ic_xlate_get(void);
void iovh_ic_xlate_put(const struct iovh_ic_xlate_ops *ops);

#endif
