// SPDX-License-Identifier: GPL-2.0
/*
 * PF driver for iovh's mock SR-IOV GPU, the QEMU device "iovh-mock-gpu"
 * (qemu/patches/ of the iovh repository). It plays xe's PF role for what the
 * VFIO dma-buf / IOV interconnect path needs, and nothing else:
 *
 *  - it enables VFs (sriov_configure) and provisions each VF's LMEM as a
 *    list of PF LMEM blocks, written into the device's per-VF block table
 *    (the shape of xe's LMTT: VF BAR 2 offset k * block reaches the k-th
 *    block of the list, which may be anywhere in the PF's BAR 2);
 *  - provisioning follows xe's rules (xe_gt_sriov_pf_config.c): when VFs are
 *    enabled and no VF has a quota yet, every enabled VF gets an equal share
 *    of the free LMEM rounded down to the block size (pf_estimate_fair_lmem);
 *    a quota written before enabling is kept (custom mode); disabling VFs
 *    releases the automatic provisioning; a quota write rounds up to the
 *    block size, replaces the VF's blocks, and fails with EBUSY while the VF's
 *    LMEM is in use and ENOSPC when the free blocks do not suffice;
 *  - files, as xe's (Documentation/ABI/testing/sysfs-driver-intel-xe-sriov):
 *      <PF>/sriov_admin/vfN/profile/vram_quota   bytes (rw)
 *    and this device's own:
 *      <PF>/sriov_admin/vfN/lmem_blocks          the PF blocks backing the
 *                                                VF, in slot order (rw: a
 *                                                list places them exactly)
 *      <PF>/sriov_admin/geometry                 lmem, block, slots (ro)
 *
 * Register layout: hw/misc/iovh-mock-gpu.c of the QEMU patch.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/io.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "mgpu.h"

static void mgpu_write_entry(struct mgpu *m, unsigned int vf, unsigned int slot,
			     u32 block)
{
	writel(block == NO_BLOCK ? 0 : ENTRY_VALID | block,
	       m->regs + m->table_offset + 4 * (vf * m->slots + slot));
}

/* Give VF @vf (0-based) exactly the blocks @list[0..n); NULL/0 releases. */
static void mgpu_set_blocks(struct mgpu *m, unsigned int vf, const u32 *list,
			    unsigned int n)
{
	u32 *b = m->blocks + vf * m->slots;
	unsigned int i;

	lockdep_assert_held(&m->lock);
	for (i = 0; i < m->nr[vf]; i++)
		clear_bit(b[i], m->used);
	for (i = 0; i < m->slots; i++) {
		b[i] = i < n ? list[i] : NO_BLOCK;
		if (b[i] != NO_BLOCK)
			set_bit(b[i], m->used);
		mgpu_write_entry(m, vf, i, b[i]);
	}
	m->nr[vf] = n;
	if (readl(m->regs + REG_ERROR))
		pci_warn(m->pdev, "device refused a table entry of VF%u\n", vf + 1);
}

/*
 * The lowest free blocks, @n of them, ignoring those VF @vf holds now (they
 * are released by the write that follows). -ENOSPC when too few are free.
 */
static int mgpu_pick(struct mgpu *m, unsigned int vf, unsigned int n, u32 *out)
{
	u32 *held = m->blocks + vf * m->slots;
	unsigned int got = 0, blk, i;

	for (blk = 0; blk < m->num_blocks && got < n; blk++) {
		bool mine = false;

		for (i = 0; i < m->nr[vf]; i++)
			mine |= held[i] == blk;
		if (!test_bit(blk, m->used) || mine)
			out[got++] = blk;
	}
	return got == n ? 0 : -ENOSPC;
}

static int mgpu_provision(struct mgpu *m, unsigned int vf, u64 bytes)
{
	unsigned int n;
	u32 *list;
	int ret;

	lockdep_assert_held(&m->lock);
	if (m->busy[vf])
		return -EBUSY;
	/* pf_get_lmem_alignment(): a quota rounds up to the LMTT granule. */
	bytes = round_up(bytes, (u64)m->block_size);
	if (bytes / m->block_size > m->slots)
		return -ENOSPC;	/* more than the VF's BAR 2 can show */
	n = bytes / m->block_size;
	list = kcalloc(max(n, 1u), sizeof(*list), GFP_KERNEL);
	if (!list)
		return -ENOMEM;
	ret = mgpu_pick(m, vf, n, list);
	if (!ret)
		mgpu_set_blocks(m, vf, list, n);
	kfree(list);
	return ret;
}

/* pf_estimate_fair_lmem(): the free LMEM shared evenly, in whole blocks. */
static void mgpu_auto_provision(struct mgpu *m, unsigned int num_vfs)
{
	unsigned int vf, free_blocks, each;

	lockdep_assert_held(&m->lock);
	for (vf = 0; vf < m->total_vfs; vf++)
		if (m->custom[vf])
			return;
	free_blocks = m->num_blocks - bitmap_weight(m->used, m->num_blocks);
	each = min(free_blocks / num_vfs, m->slots);
	for (vf = 0; vf < num_vfs; vf++)
		mgpu_provision(m, vf, (u64)each * m->block_size);
	m->auto_provisioned = true;
	pci_info(m->pdev, "auto-provisioned %u VFs with %u blocks of LMEM each\n",
		 num_vfs, each);
}

static void mgpu_release_auto(struct mgpu *m)
{
	unsigned int vf;

	lockdep_assert_held(&m->lock);
	if (!m->auto_provisioned)
		return;
	for (vf = 0; vf < m->total_vfs; vf++)
		if (!m->busy[vf])
			mgpu_set_blocks(m, vf, NULL, 0);
	m->auto_provisioned = false;
}

/* ------------------------------------------------------------------ sysfs */

static struct mgpu_vf *to_mgpu_vf(struct kobject *kobj)
{
	return container_of(kobj, struct mgpu_vf, kobj);
}

static ssize_t lmem_blocks_show(struct kobject *kobj, struct kobj_attribute *a,
				char *buf)
{
	struct mgpu_vf *v = to_mgpu_vf(kobj);
	struct mgpu *m = v->m;
	unsigned int vf = v->vfid - 1, i;
	ssize_t len = 0;

	guard(mutex)(&m->lock);
	for (i = 0; i < m->nr[vf]; i++)
		len += sysfs_emit_at(buf, len, "%s%u", i ? " " : "",
				     m->blocks[vf * m->slots + i]);
	len += sysfs_emit_at(buf, len, "\n");
	return len;
}

/* A list of PF block numbers (space or comma separated); empty releases. */
static ssize_t lmem_blocks_store(struct kobject *kobj, struct kobj_attribute *a,
				 const char *buf, size_t count)
{
	struct mgpu_vf *v = to_mgpu_vf(kobj);
	struct mgpu *m = v->m;
	unsigned int vf = v->vfid - 1, n = 0, i, j;
	char *copy, *p, *tok;
	u32 *list;
	int ret = 0;

	list = kcalloc(m->slots, sizeof(*list), GFP_KERNEL);
	copy = kstrndup(buf, count, GFP_KERNEL);
	if (!list || !copy) {
		ret = -ENOMEM;
		goto out;
	}
	p = strim(copy);
	while ((tok = strsep(&p, " ,\n")) != NULL) {
		if (!*tok)
			continue;
		if (n == m->slots) {
			ret = -ENOSPC;	/* more blocks than VF BAR 2 slots */
			goto out;
		}
		ret = kstrtou32(tok, 0, &list[n]);
		if (ret)
			goto out;
		if (list[n] >= m->num_blocks) {
			ret = -EINVAL;
			goto out;
		}
		for (j = 0; j < n; j++)
			if (list[j] == list[n]) {
				ret = -EINVAL;
				goto out;
			}
		n++;
	}
	mutex_lock(&m->lock);
	if (m->busy[vf])
		ret = -EBUSY;
	for (i = 0; !ret && i < n; i++) {
		bool mine = false;

		for (j = 0; j < m->nr[vf]; j++)
			mine |= m->blocks[vf * m->slots + j] == list[i];
		if (test_bit(list[i], m->used) && !mine)
			ret = -EBUSY;	/* another VF holds it */
	}
	if (!ret) {
		mgpu_set_blocks(m, vf, list, n);
		m->custom[vf] = n > 0;
	}
	mutex_unlock(&m->lock);
out:
	kfree(copy);
	kfree(list);
	return ret ? ret : count;
}

static struct kobj_attribute lmem_blocks_attr = __ATTR_RW(lmem_blocks);

static struct attribute *mgpu_vf_attrs[] = {
	&lmem_blocks_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(mgpu_vf);

static void mgpu_vf_release(struct kobject *kobj)
{
	kfree(to_mgpu_vf(kobj));
}

static const struct kobj_type mgpu_vf_ktype = {
	.release = mgpu_vf_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = mgpu_vf_groups,
};

static ssize_t vram_quota_show(struct kobject *kobj, struct kobj_attribute *a,
			       char *buf)
{
	struct mgpu_vf *v = to_mgpu_vf(kobj->parent);
	struct mgpu *m = v->m;

	guard(mutex)(&m->lock);
	return sysfs_emit(buf, "%llu\n",
			  (u64)m->nr[v->vfid - 1] * m->block_size);
}

static ssize_t vram_quota_store(struct kobject *kobj, struct kobj_attribute *a,
				const char *buf, size_t count)
{
	struct mgpu_vf *v = to_mgpu_vf(kobj->parent);
	struct mgpu *m = v->m;
	u64 bytes;
	int ret;

	ret = kstrtou64(buf, 0, &bytes);
	if (ret)
		return ret;
	guard(mutex)(&m->lock);
	ret = mgpu_provision(m, v->vfid - 1, bytes);
	if (ret)
		return ret;
	m->custom[v->vfid - 1] = bytes > 0;
	return count;
}

static struct kobj_attribute vram_quota_attr = __ATTR_RW(vram_quota);

static ssize_t geometry_show(struct kobject *kobj, struct kobj_attribute *a,
			     char *buf)
{
	struct mgpu *m = dev_get_drvdata(kobj_to_dev(kobj->parent));

	return sysfs_emit(buf, "lmem %llu block %u blocks %u vf_lmem %llu slots %u total_vfs %u\n",
			  m->lmem_size, m->block_size, m->num_blocks,
			  m->vf_lmem_size, m->slots, m->total_vfs);
}

static struct kobj_attribute geometry_attr = __ATTR_RO(geometry);

static void mgpu_sysfs_remove(struct mgpu *m)
{
	unsigned int i;

	for (i = 0; m->vf && i < m->total_vfs; i++) {
		if (!m->vf[i])
			continue;
		kobject_put(m->vf[i]->profile);
		kobject_put(&m->vf[i]->kobj);
	}
	kfree(m->vf);
	m->vf = NULL;
	if (m->admin) {
		sysfs_remove_file(m->admin, &geometry_attr.attr);
		kobject_put(m->admin);
		m->admin = NULL;
	}
}

static int mgpu_sysfs_add(struct mgpu *m)
{
	unsigned int i;
	int ret;

	m->admin = kobject_create_and_add("sriov_admin", &m->pdev->dev.kobj);
	if (!m->admin)
		return -ENOMEM;
	ret = sysfs_create_file(m->admin, &geometry_attr.attr);
	if (ret)
		goto fail;
	m->vf = kcalloc(m->total_vfs, sizeof(*m->vf), GFP_KERNEL);
	if (!m->vf) {
		ret = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < m->total_vfs; i++) {
		struct mgpu_vf *v = kzalloc(sizeof(*v), GFP_KERNEL);

		if (!v) {
			ret = -ENOMEM;
			goto fail;
		}
		v->m = m;
		v->vfid = i + 1;
		ret = kobject_init_and_add(&v->kobj, &mgpu_vf_ktype, m->admin,
					   "vf%u", i + 1);
		if (ret) {
			kobject_put(&v->kobj);
			goto fail;
		}
		m->vf[i] = v;
		v->profile = kobject_create_and_add("profile", &v->kobj);
		if (!v->profile) {
			ret = -ENOMEM;
			goto fail;
		}
		ret = sysfs_create_file(v->profile, &vram_quota_attr.attr);
		if (ret)
			goto fail;
	}
	return 0;
fail:
	mgpu_sysfs_remove(m);
	return ret;
}

/* ------------------------------------------------------------------ PCI */

static int mgpu_sriov_configure(struct pci_dev *pdev, int num_vfs)
{
	struct mgpu *m = pci_get_drvdata(pdev);
	int ret;

	if (num_vfs == 0) {
		pci_disable_sriov(pdev);
		guard(mutex)(&m->lock);
		mgpu_release_auto(m);
		return 0;
	}
	scoped_guard(mutex, &m->lock)
		mgpu_auto_provision(m, num_vfs);
	ret = pci_enable_sriov(pdev, num_vfs);
	if (ret) {
		guard(mutex)(&m->lock);
		mgpu_release_auto(m);
		return ret;
	}
	return num_vfs;
}

static void mgpu_free(struct mgpu *m)
{
	bitmap_free(m->used);
	kfree(m->blocks);
	kfree(m->nr);
	kfree(m->custom);
	kfree(m->busy);
}

static int mgpu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct mgpu *m;
	unsigned int vf;
	int ret;

	m = devm_kzalloc(&pdev->dev, sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	m->pdev = pdev;
	mutex_init(&m->lock);
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	m->regs = pcim_iomap(pdev, 0, 0);
	if (!m->regs)
		return -ENOMEM;
	/* Same IDs as a real Battlemage part: only the mock answers the magic. */
	if (readl(m->regs + REG_MAGIC) != MGPU_MAGIC ||
	    readl(m->regs + REG_VERSION) != MGPU_VERSION)
		return -ENODEV;
	m->lmem_size = readl(m->regs + REG_LMEM_SIZE) |
		       (u64)readl(m->regs + REG_LMEM_SIZE + 4) << 32;
	m->vf_lmem_size = readl(m->regs + REG_VF_LMEM_SIZE) |
			  (u64)readl(m->regs + REG_VF_LMEM_SIZE + 4) << 32;
	m->block_size = readl(m->regs + REG_BLOCK_SIZE);
	m->num_blocks = readl(m->regs + REG_NUM_BLOCKS);
	m->total_vfs = readl(m->regs + REG_TOTAL_VFS);
	m->slots = readl(m->regs + REG_VF_SLOTS);
	m->table_offset = readl(m->regs + REG_TABLE_OFFSET);
	if (!m->block_size || !m->num_blocks || !m->slots || !m->total_vfs ||
	    m->total_vfs != pci_sriov_get_totalvfs(pdev) ||
	    (u64)m->slots * m->block_size != m->vf_lmem_size ||
	    pci_resource_len(pdev, 2) != m->lmem_size) {
		pci_err(pdev, "inconsistent device geometry\n");
		return -ENODEV;
	}
	m->used = bitmap_zalloc(m->num_blocks, GFP_KERNEL);
	m->blocks = kcalloc(m->total_vfs * m->slots, sizeof(u32), GFP_KERNEL);
	m->nr = kcalloc(m->total_vfs, sizeof(u32), GFP_KERNEL);
	m->custom = kcalloc(m->total_vfs, sizeof(bool), GFP_KERNEL);
	m->busy = kcalloc(m->total_vfs, sizeof(unsigned int), GFP_KERNEL);
	if (!m->used || !m->blocks || !m->nr || !m->custom || !m->busy) {
		mgpu_free(m);
		return -ENOMEM;
	}
	pci_set_drvdata(pdev, m);
	/* Start from an empty table whatever the device held. */
	guard(mutex)(&m->lock);
	for (vf = 0; vf < m->total_vfs; vf++)
		mgpu_set_blocks(m, vf, NULL, 0);
	writel(~0u, m->regs + REG_ERROR);
	ret = mgpu_sysfs_add(m);
	if (ret) {
		mgpu_free(m);
		return ret;
	}
	pci_info(pdev, "iovh mock GPU: %llu MiB LMEM in %u blocks of %u KiB, %u VFs with %llu MiB LMEM BARs\n",
		 m->lmem_size >> 20, m->num_blocks, m->block_size >> 10,
		 m->total_vfs, m->vf_lmem_size >> 20);
	return 0;
}

static void mgpu_remove(struct pci_dev *pdev)
{
	struct mgpu *m = pci_get_drvdata(pdev);
	unsigned int vf;

	pci_disable_sriov(pdev);
	mgpu_sysfs_remove(m);
	scoped_guard(mutex, &m->lock)
		for (vf = 0; vf < m->total_vfs; vf++)
			mgpu_set_blocks(m, vf, NULL, 0);
	mgpu_free(m);
}

static const struct pci_device_id mgpu_ids[] = {
	/* The QEMU device's defaults: Battlemage's IDs, subsystem 8086:1100. */
	{ PCI_DEVICE_SUB(PCI_VENDOR_ID_INTEL, 0xe20b, PCI_VENDOR_ID_INTEL, 0x1100) },
	{ }
};
MODULE_DEVICE_TABLE(pci, mgpu_ids);

static struct pci_driver mgpu_driver = {
	.name = "iovh_mock_gpu",
	.id_table = mgpu_ids,
	.probe = mgpu_probe,
	.remove = mgpu_remove,
	.sriov_configure = mgpu_sriov_configure,
};
struct mgpu *mgpu_of(struct pci_dev *pdev)
{
	if (pdev->dev.driver != &mgpu_driver.driver)
		return NULL;
	return pci_get_drvdata(pdev);
}

static int __init mgpu_init(void)
{
	int ret = pci_register_driver(&mgpu_driver);

	if (!ret)
		mgpu_xlate_register();
	return ret;
}
module_init(mgpu_init);

static void __exit mgpu_exit(void)
{
	mgpu_xlate_unregister();
	pci_unregister_driver(&mgpu_driver);
}
module_exit(mgpu_exit);

MODULE_DESCRIPTION("PF driver for iovh's mock SR-IOV GPU (QEMU iovh-mock-gpu)");
MODULE_LICENSE("GPL");
