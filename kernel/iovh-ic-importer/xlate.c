// SPDX-License-Identifier: GPL-2.0
/*
 * Translation hook of the stand-in importer (see xlate.h). The identity is
 * right when the exporter's BAR is plain memory the CPU reaches at the
 * range's own address (QEMU's ivshmem-plain BAR 2, RAM-backed).
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

#include "xlate.h"

static int identity_translate(struct pci_dev *importer, const struct range *in,
			      unsigned int n, struct iovh_ic_seg **out)
{
	struct iovh_ic_seg *seg = kvcalloc(n ?: 1, sizeof(*seg), GFP_KERNEL);
	unsigned int i;

	if (!seg)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		seg[i].addr = in[i].start;
		seg[i].len = range_len(&in[i]);
	}
	*out = seg;
	return n;
}

static const struct iovh_ic_xlate_ops identity = {
	.id = 0,
	.name = "identity",
	.translate = identity_translate,
};

static DEFINE_MUTEX(xlate_lock);
static const struct iovh_ic_xlate_ops *current_ops = &identity;

void iovh_ic_set_xlate(const struct iovh_ic_xlate_ops *ops)
{
	guard(mutex)(&xlate_lock);
	current_ops = ops ? ops : &identity;
}
EXPORT_SYMBOL_GPL(iovh_ic_set_xlate);

const struct iovh_ic_xlate_ops *iovh_ic_xlate_get(void)
{
	guard(mutex)(&xlate_lock);
	/* A provider on its way out: use the identity rather than its code. */
	if (!try_module_get(current_ops->owner))
		return &identity;
	return current_ops;
}

void iovh_ic_xlate_put(const struct iovh_ic_xlate_ops *ops)
{
	module_put(ops->owner);
}
