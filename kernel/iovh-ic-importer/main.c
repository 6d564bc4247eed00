// SPDX-License-Identifier: GPL-2.0
/*
 * iovh's stand-in for xe's importer role in the IOV interconnect series
 * (kernel/patches/rfc-v1, rfc-v2). No machine iovh runs on in CI has an
 * Intel SR-IOV GPU, so this module imports a dma-buf the way xe does in that
 * series, on any PCI device userspace names:
 *
 *  - IMPORT: dma_buf_dynamic_attach() with that device as the importer
 *    device, allow_peer2peer, invalidate_mappings, and supports_interconnects
 *    offering IOV (device, bar) through dma_buf_match_interconnects(), as
 *    xe_dma_buf_supports_interconnects() does (RFC 5/8);
 *  - MAP: under the dma-buf's reservation lock, dma_buf_map_interconnect()
 *    when the attachment negotiated IOV, falling back to
 *    dma_buf_map_attachment() when it did not or the map failed, as
 *    xe_bo_move_dmabuf() does (RFC 7/8);
 *  - it keeps the ranges as xe of the same revision does: RFC v1's xe copies
 *    them into its own array and never unmaps the core's container (it
 *    leaks once per map); RFC v2's xe keeps the container and unmaps it at
 *    the next map and when the BO goes away;
 *  - INFO reports what was negotiated and the ranges; RW reads and writes
 *    the exported memory through those ranges (translated by xlate.c).
 *
 * Unlike xe, a scatter-gather mapping is unmapped in invalidate_mappings
 * by default, so a revoke never waits on this module; an import with
 * IOVH_IC_IMPORT_DEFER_UNMAP defers that unmap to the next MAP or release
 * as xe does, which makes 7.1's revoke wait for it.
 *
 * Which API the kernel has decides what is built: the series' v1 headers
 * (CREATE_IOV_INTERCONNECT), v2's (MATCH_INTERCONNECT), or neither (a plain
 * dynamic P2P importer: IMPORT and MAP work, nothing negotiates).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/io.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/range.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "iovh_ic.h"
#include "xlate.h"

#if defined(CREATE_IOV_INTERCONNECT)
#define IOVH_IC_API IOVH_IC_API_RFC_V1
#define IOVH_IC_KEEP IOVH_IC_KEEP_LEAK
#elif defined(MATCH_INTERCONNECT)
#define IOVH_IC_API IOVH_IC_API_RFC_V2
#define IOVH_IC_KEEP IOVH_IC_KEEP_UNMAP
#else
#define IOVH_IC_API IOVH_IC_API_NONE
#define IOVH_IC_KEEP IOVH_IC_KEEP_UNMAP
#endif

MODULE_IMPORT_NS("DMA_BUF");

/* Ranges IOVH_IC_INFO copies out at most (vfio allows about 262,144 per buffer). */
#define IOVH_IC_INFO_MAX (1u << 20)

struct iovh_ic_file {
	struct mutex lock; /* imports and everything reached through them */
	struct xarray imports;
};

struct iovh_ic_imp {
	struct iovh_ic_file *file;
	struct pci_dev *pdev; /* the importer device (a reference) */
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	struct dma_buf_attach_ops ops;
	u32 flags;
	u32 bar;
	u32 path;
	/* The interconnect container, kept only when IOVH_IC_KEEP == UNMAP. */
	void *ic_ranges;
	struct sg_table *sgt;
	/* What the import holds: the ranges (IOV) or sg entries (SG), as ranges. */
	struct range *ranges;
	unsigned int nr_ranges;
	/* IOV: the translated segments (kvcalloc'd by the translation) and the translation that made them. */
	struct iovh_ic_seg *segs;
	unsigned int nr_segs;
	const struct iovh_ic_xlate_ops *xlate;
	u32 maps;
	u32 leaked;
	/* Set by invalidate_mappings, which runs under the reservation lock only. */
	atomic_t invalidations;
	bool invalidated;
};

/* ------------------------------------------------------------ attach ops */

static void iovh_ic_invalidate_mappings(struct dma_buf_attachment *attach)
{
	struct iovh_ic_imp *imp = attach->importer_priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	atomic_inc(&imp->invalidations);
	WRITE_ONCE(imp->invalidated, true);
	/*
	 * A dynamic importer drops its scatter-gather mapping here; 7.1's vfio
	 * revoke waits until it does (vfio_pci_dma_buf_move()). The
	 * interconnect ranges are left alone, as xe leaves them: the series'
	 * interconnect map takes no reference the revoke would wait for. With
	 * IOVH_IC_IMPORT_DEFER_UNMAP the sg unmap waits for the next MAP or
	 * for release, as xe's does for the next validation.
	 */
	if (imp->sgt && !(imp->flags & IOVH_IC_IMPORT_DEFER_UNMAP)) {
		dma_buf_unmap_attachment(attach, imp->sgt, DMA_BIDIRECTIONAL);
		imp->sgt = NULL;
	}
}

#if IOVH_IC_API == IOVH_IC_API_RFC_V1
static bool iovh_ic_supports_interconnects(struct dma_buf_attachment *attach,
					   const struct dma_buf_interconnect_match *exp,
					   unsigned int exp_ics)
{
	struct iovh_ic_imp *imp = attach->importer_priv;
	struct pci_dev *pdev = to_pci_dev(attach->dev);
	unsigned int bar = imp->bar;
	const struct dma_buf_interconnect_match supports_ics[] = {
		CREATE_IOV_INTERCONNECT(pdev, bar),
	};

	return dma_buf_match_interconnects(attach, exp, exp_ics, supports_ics,
					   ARRAY_SIZE(supports_ics));
}

static bool iovh_ic_negotiated(struct dma_buf_attachment *attach)
{
	return attach->allow_ic &&
	       attach->interconnect.type == DMA_BUF_INTERCONNECT_IOV;
}
#elif IOVH_IC_API == IOVH_IC_API_RFC_V2
static bool iovh_ic_supports_interconnects(struct dma_buf_attachment *attach,
					   const struct dma_buf_interconnect_match *exp,
					   unsigned int exp_ics)
{
	struct iovh_ic_imp *imp = attach->importer_priv;
	const struct dma_buf_interconnect_match supports_ics[] = {
		MATCH_INTERCONNECT(iov_interconnect, attach->dev, imp->bar),
	};

	return dma_buf_match_interconnects(attach, exp, exp_ics, supports_ics,
					   ARRAY_SIZE(supports_ics));
}

static bool iovh_ic_negotiated(struct dma_buf_attachment *attach)
{
	return attach->allow_ic && attach->ic_match &&
	       attach->ic_match->type == iov_interconnect;
}
#else
static bool iovh_ic_negotiated(struct dma_buf_attachment *attach)
{
	return false;
}
#endif

/* ------------------------------------------------------------ mapping */

static void iovh_ic_drop_ranges(struct iovh_ic_imp *imp)
{
	kfree(imp->ranges);
	imp->ranges = NULL;
	imp->nr_ranges = 0;
	kvfree(imp->segs);
	imp->segs = NULL;
	imp->nr_segs = 0;
	if (imp->xlate) {
		iovh_ic_xlate_put(imp->xlate);
		imp->xlate = NULL;
	}
}

/* Undo the current mapping (reservation lock held). */
static void iovh_ic_unmap(struct iovh_ic_imp *imp)
{
	if (imp->sgt) {
		dma_buf_unmap_attachment(imp->attach, imp->sgt, DMA_BIDIRECTIONAL);
		imp->sgt = NULL;
	}
#if IOVH_IC_API != IOVH_IC_API_NONE
	if (imp->ic_ranges) {
		dma_buf_unmap_interconnect(imp->attach, imp->ic_ranges);
		imp->ic_ranges = NULL;
	}
#endif
	iovh_ic_drop_ranges(imp);
	imp->path = IOVH_IC_PATH_NONE;
}

#if IOVH_IC_API != IOVH_IC_API_NONE
/*
 * The IOV branch of xe_bo_move_dmabuf(): map through the interconnect, keep
 * the ranges, translate them. A negative return means "fall back to the
 * scatter-gather path"; the interconnect is then off for this attachment,
 * as xe clears attach->allow_ic.
 */
static int iovh_ic_map_interconnect(struct iovh_ic_imp *imp)
{
	struct dma_buf_ranges *ranges;
	const struct iovh_ic_xlate_ops *xlate;
	struct range *copy;
	struct iovh_ic_seg *segs = NULL;
	unsigned long i;
	void *entry;
	int ret;

	ranges = dma_buf_map_interconnect(imp->attach);
	if (IS_ERR(ranges))
		return PTR_ERR(ranges);

	copy = kcalloc(ranges->nranges ?: 1, sizeof(*copy), GFP_KERNEL);
	ret = -ENOMEM;
	if (!copy)
		goto err_unmap;
	ret = -EINVAL;
	xa_for_each(&ranges->ranges, i, entry) {
		if (i >= ranges->nranges)
			goto err_unmap;
		copy[i] = *(struct range *)entry;
	}
	xlate = iovh_ic_xlate_get();
	ret = xlate->translate(imp->pdev, copy, ranges->nranges, &segs);
	if (ret < 0) {
		iovh_ic_xlate_put(xlate);
		goto err_unmap;
	}

	imp->ranges = copy;
	imp->segs = segs;
	imp->nr_segs = ret;
	imp->nr_ranges = ranges->nranges;
	imp->xlate = xlate;
#if IOVH_IC_KEEP == IOVH_IC_KEEP_LEAK
	/*
	 * RFC v1's xe keeps only its translated array: the core's container
	 * (and the exporter's range array inside it) is never handed back to
	 * dma_buf_unmap_interconnect() (RFC quirk 6). Neither is it here.
	 */
	imp->leaked++;
#else
	imp->ic_ranges = ranges;
#endif
	imp->path = IOVH_IC_PATH_IOV;
	return 0;

err_unmap:
	/* xe: "if (xe_bo_xarray_to_dma_addr(...)) dma_buf_unmap_interconnect(...)" */
	kfree(copy);
	dma_buf_unmap_interconnect(imp->attach, ranges);
	return ret;
}
#endif

static int iovh_ic_map_sg(struct iovh_ic_imp *imp)
{
	struct sg_table *sgt;
	struct scatterlist *sg;
	struct range *copy;
	unsigned int i;

	sgt = dma_buf_map_attachment(imp->attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt))
		return PTR_ERR(sgt);
	copy = kcalloc(sgt->nents ?: 1, sizeof(*copy), GFP_KERNEL);
	if (!copy) {
		dma_buf_unmap_attachment(imp->attach, sgt, DMA_BIDIRECTIONAL);
		return -ENOMEM;
	}
	for_each_sgtable_dma_sg(sgt, sg, i) {
		copy[i].start = sg_dma_address(sg);
		copy[i].end = sg_dma_address(sg) + sg_dma_len(sg) - 1;
	}
	imp->sgt = sgt;
	imp->ranges = copy;
	imp->nr_ranges = sgt->nents;
	imp->path = IOVH_IC_PATH_SG;
	return 0;
}

static int iovh_ic_map(struct iovh_ic_imp *imp, struct iovh_ic_map *arg)
{
	struct dma_buf *dmabuf = imp->dmabuf;
	int ret = 0;

	arg->ic_error = 0;
	dma_resv_lock(dmabuf->resv, NULL);
	if (imp->path != IOVH_IC_PATH_NONE && !READ_ONCE(imp->invalidated))
		goto out;
	WRITE_ONCE(imp->invalidated, false);
	/* xe_bo_move_dmabuf() drops what the previous validation mapped first. */
	iovh_ic_unmap(imp);
#if IOVH_IC_API != IOVH_IC_API_NONE
	if (iovh_ic_negotiated(imp->attach)) {
		ret = iovh_ic_map_interconnect(imp);
		if (ret) {
			arg->ic_error = ret;
			imp->attach->allow_ic = false;
		}
	}
#endif
	if (imp->path == IOVH_IC_PATH_NONE)
		ret = iovh_ic_map_sg(imp);
	if (!ret)
		imp->maps++;
out:
	arg->path = imp->path;
	arg->nr_ranges = imp->nr_ranges;
	dma_resv_unlock(dmabuf->resv);
	return ret;
}

/* ------------------------------------------------------------ CPU access */

/* Copy between the user buffer and [offset, offset + len) of the dma-buf through the translated ranges. */
static int iovh_ic_rw(struct iovh_ic_imp *imp, const struct iovh_ic_rw *arg)
{
	void __user *ubuf = u64_to_user_ptr(arg->buf_ptr);
	u64 off = arg->offset, left = arg->len, base = 0;
	unsigned int i;
	void *bounce;
	int ret = 0;

	if (arg->op != IOVH_IC_RW_READ && arg->op != IOVH_IC_RW_WRITE)
		return -EINVAL;
	if (!arg->len || arg->len > IOVH_IC_RW_MAX)
		return -EINVAL;
	if (imp->path != IOVH_IC_PATH_IOV || READ_ONCE(imp->invalidated))
		return -EOPNOTSUPP;
	bounce = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!bounce)
		return -ENOMEM;

	for (i = 0; i < imp->nr_segs && left; i++) {
		const struct iovh_ic_seg *seg = &imp->segs[i];

		while (left && off < base + seg->len) {
			phys_addr_t phys = seg->addr + (off - base);
			size_t in_page = PAGE_SIZE - offset_in_page(phys);
			size_t n = min3((u64)in_page, left, base + seg->len - off);
			void __iomem *io;

			io = ioremap_wc(phys & PAGE_MASK, PAGE_SIZE);
			if (!io) {
				ret = -ENOMEM;
				goto out;
			}
			if (arg->op == IOVH_IC_RW_READ) {
				memcpy_fromio(bounce, io + offset_in_page(phys), n);
				if (copy_to_user(ubuf, bounce, n))
					ret = -EFAULT;
			} else if (copy_from_user(bounce, ubuf, n)) {
				ret = -EFAULT;
			} else {
				memcpy_toio(io + offset_in_page(phys), bounce, n);
			}
			iounmap(io);
			if (ret)
				goto out;
			ubuf += n;
			off += n;
			left -= n;
		}
		base += seg->len;
	}
	if (left)
		ret = -EINVAL; /* past the end of the ranges */
out:
	kfree(bounce);
	return ret;
}

/* ------------------------------------------------------------ imports */

static void iovh_ic_import_free(struct iovh_ic_imp *imp)
{
	if (imp->attach) {
		dma_resv_lock(imp->dmabuf->resv, NULL);
		iovh_ic_unmap(imp);
		dma_resv_unlock(imp->dmabuf->resv);
		dma_buf_detach(imp->dmabuf, imp->attach);
	}
	if (imp->dmabuf)
		dma_buf_put(imp->dmabuf);
	pci_dev_put(imp->pdev);
	kfree(imp);
}

static long iovh_ic_import(struct iovh_ic_file *f, struct iovh_ic_import __user *uarg)
{
	struct iovh_ic_import arg;
	struct iovh_ic_imp *imp;
	struct dma_buf_attachment *attach;
	u32 id;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~IOVH_IC_IMPORT_FLAGS)
		return -EINVAL;
	if (arg.bus > 0xff || arg.devfn > 0xff || arg.segment > 0xffff)
		return -EINVAL;

	imp = kzalloc(sizeof(*imp), GFP_KERNEL);
	if (!imp)
		return -ENOMEM;
	imp->file = f;
	imp->flags = arg.flags;
	imp->bar = arg.bar;
	atomic_set(&imp->invalidations, 0);
	imp->pdev = pci_get_domain_bus_and_slot(arg.segment, arg.bus, arg.devfn);
	if (!imp->pdev) {
		ret = -ENODEV;
		goto err;
	}
	imp->dmabuf = dma_buf_get(arg.fd);
	if (IS_ERR(imp->dmabuf)) {
		ret = PTR_ERR(imp->dmabuf);
		imp->dmabuf = NULL;
		goto err;
	}
	imp->ops.allow_peer2peer = !!(arg.flags & IOVH_IC_IMPORT_P2P);
	if (arg.flags & IOVH_IC_IMPORT_REVOCABLE)
		imp->ops.invalidate_mappings = iovh_ic_invalidate_mappings;
#if IOVH_IC_API != IOVH_IC_API_NONE
	if (arg.flags & IOVH_IC_IMPORT_OFFER_IOV)
		imp->ops.supports_interconnects = iovh_ic_supports_interconnects;
#endif

	/*
	 * No lock of ours is held here: the exporter's attach runs the series'
	 * negotiation, and on RFC v1 an import after the VFIO device was closed
	 * oopses in it (vfio_pci_match_interconnects() reads priv->vdev, which
	 * vfio_pci_dma_buf_cleanup() cleared). The task then dies in this ioctl;
	 * holding our mutex would hang its exit in iovh_ic_release().
	 */
	attach = dma_buf_dynamic_attach(imp->dmabuf, &imp->pdev->dev, &imp->ops, imp);
	if (IS_ERR(attach)) {
		ret = PTR_ERR(attach);
		goto err;
	}
	imp->attach = attach;

	arg.negotiated = iovh_ic_negotiated(attach);
	arg.size = imp->dmabuf->size;
	mutex_lock(&f->lock);
	ret = xa_alloc(&f->imports, &id, imp, xa_limit_31b, GFP_KERNEL);
	mutex_unlock(&f->lock);
	if (ret)
		goto err;
	arg.handle = id;
	if (copy_to_user(uarg, &arg, sizeof(arg))) {
		mutex_lock(&f->lock);
		xa_erase(&f->imports, id);
		mutex_unlock(&f->lock);
		ret = -EFAULT;
		goto err;
	}
	return 0;

err:
	iovh_ic_import_free(imp);
	return ret;
}

static long iovh_ic_info(struct iovh_ic_imp *imp, struct iovh_ic_info *arg)
{
	struct iovh_ic_range __user *out = u64_to_user_ptr(arg->ranges_ptr);
	struct iovh_ic_range *copy = NULL;
	unsigned int n, i;
	long ret = 0;

	/*
	 * A snapshot under the reservation lock, copied out after it: a user
	 * copy may fault and take mmap_lock, which nests outside the
	 * reservation lock (dma_resv_lockdep() primes that order).
	 */
	if (arg->nr_ranges) {
		copy = kvcalloc(min(arg->nr_ranges, IOVH_IC_INFO_MAX), sizeof(*copy), GFP_KERNEL);
		if (!copy)
			return -ENOMEM;
	}
	dma_resv_lock(imp->dmabuf->resv, NULL);
	arg->state = 0;
	if (iovh_ic_negotiated(imp->attach))
		arg->state |= IOVH_IC_STATE_NEGOTIATED;
	if (imp->path != IOVH_IC_PATH_NONE)
		arg->state |= IOVH_IC_STATE_MAPPED;
	if (READ_ONCE(imp->invalidated))
		arg->state |= IOVH_IC_STATE_INVALIDATED;
	arg->path = imp->path;
	n = min3(imp->nr_ranges, arg->nr_ranges, IOVH_IC_INFO_MAX);
	arg->nr_ranges = imp->nr_ranges;
	arg->size = imp->dmabuf->size;
	arg->maps = imp->maps;
	arg->invalidations = atomic_read(&imp->invalidations);
	arg->leaked = imp->leaked;
	arg->pad = 0;
	for (i = 0; i < n; i++) {
		copy[i].start = imp->ranges[i].start;
		copy[i].end = imp->ranges[i].end;
	}
	dma_resv_unlock(imp->dmabuf->resv);
	if (n && copy_to_user(out, copy, n * sizeof(*copy)))
		ret = -EFAULT;
	kvfree(copy);
	return ret;
}

static long iovh_ic_ioctl(struct file *file, unsigned int cmd, unsigned long uarg)
{
	struct iovh_ic_file *f = file->private_data;
	void __user *argp = (void __user *)uarg;
	struct iovh_ic_imp *imp;
	long ret;

	switch (cmd) {
	case IOVH_IC_VERSION: {
		const struct iovh_ic_xlate_ops *xlate = iovh_ic_xlate_get();
		struct iovh_ic_version v = {
			.abi = IOVH_IC_ABI_VERSION,
			.api = IOVH_IC_API,
			.keep = IOVH_IC_KEEP,
			.xlate = xlate->id,
		};

		iovh_ic_xlate_put(xlate);
		return copy_to_user(argp, &v, sizeof(v)) ? -EFAULT : 0;
	}
	case IOVH_IC_IMPORT:
		return iovh_ic_import(f, argp);
	case IOVH_IC_MAP: {
		struct iovh_ic_map arg;

		if (copy_from_user(&arg, argp, sizeof(arg)))
			return -EFAULT;
		mutex_lock(&f->lock);
		imp = xa_load(&f->imports, arg.handle);
		ret = imp ? iovh_ic_map(imp, &arg) : -ENOENT;
		mutex_unlock(&f->lock);
		/* path and ic_error are written back even when the map failed. */
		if (imp && copy_to_user(argp, &arg, sizeof(arg)))
			return -EFAULT;
		return ret;
	}
	case IOVH_IC_INFO: {
		struct iovh_ic_info arg;

		if (copy_from_user(&arg, argp, sizeof(arg)))
			return -EFAULT;
		mutex_lock(&f->lock);
		imp = xa_load(&f->imports, arg.handle);
		ret = imp ? iovh_ic_info(imp, &arg) : -ENOENT;
		mutex_unlock(&f->lock);
		if (ret)
			return ret;
		return copy_to_user(argp, &arg, sizeof(arg)) ? -EFAULT : 0;
	}
	case IOVH_IC_RW: {
		struct iovh_ic_rw arg;

		if (copy_from_user(&arg, argp, sizeof(arg)))
			return -EFAULT;
		mutex_lock(&f->lock);
		imp = xa_load(&f->imports, arg.handle);
		ret = imp ? iovh_ic_rw(imp, &arg) : -ENOENT;
		mutex_unlock(&f->lock);
		return ret;
	}
	case IOVH_IC_RELEASE: {
		struct iovh_ic_release arg;

		if (copy_from_user(&arg, argp, sizeof(arg)))
			return -EFAULT;
		if (arg.pad)
			return -EINVAL;
		mutex_lock(&f->lock);
		imp = xa_erase(&f->imports, arg.handle);
		if (imp)
			iovh_ic_import_free(imp);
		mutex_unlock(&f->lock);
		return imp ? 0 : -ENOENT;
	}
	default:
		return -ENOTTY;
	}
}

static int iovh_ic_open(struct inode *inode, struct file *file)
{
	struct iovh_ic_file *f = kzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return -ENOMEM;
	mutex_init(&f->lock);
	xa_init_flags(&f->imports, XA_FLAGS_ALLOC1);
	file->private_data = f;
	return 0;
}

static int iovh_ic_release(struct inode *inode, struct file *file)
{
	struct iovh_ic_file *f = file->private_data;
	struct iovh_ic_imp *imp;
	unsigned long id;

	xa_for_each(&f->imports, id, imp)
		iovh_ic_import_free(imp);
	xa_destroy(&f->imports);
	mutex_destroy(&f->lock);
	kfree(f);
	return 0;
}

static const struct file_operations iovh_ic_fops = {
	.owner = THIS_MODULE,
	.open = iovh_ic_open,
	.release = iovh_ic_release,
	.unlocked_ioctl = iovh_ic_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice iovh_ic_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "iovh-ic",
	.fops = &iovh_ic_fops,
	.mode = 0600,
};

static int __init iovh_ic_init(void)
{
	int ret = misc_register(&iovh_ic_misc);

	if (!ret)
		pr_info("stand-in importer, interconnect API %s\n",
			IOVH_IC_API == IOVH_IC_API_RFC_V1 ? "rfc-v1" :
			IOVH_IC_API == IOVH_IC_API_RFC_V2 ? "rfc-v2" : "none");
	return ret;
}

static void __exit iovh_ic_exit(void)
{
	misc_deregister(&iovh_ic_misc);
}

module_init(iovh_ic_init);
module_exit(iovh_ic_exit);

MODULE_DESCRIPTION("iovh stand-in importer for the dma-buf IOV interconnect series");
MODULE_LICENSE("GPL");
