/* SPDX-License-Identifier: GPL-2.0 */
/* The PF driver's state, shared by main.c and the translation step (xlate.c). */
#ifndef IOVH_MOCK_GPU_H
#define IOVH_MOCK_GPU_H

#include <linux/kobject.h>
#include <linux/mutex.h>
#include <linux/pci.h>

#define MGPU_MAGIC		0x68766f69u	/* the bytes "iovh" */
#define MGPU_VERSION		1
#define REG_MAGIC		0x000
#define REG_VERSION		0x004
#define REG_LMEM_SIZE		0x008
#define REG_VF_LMEM_SIZE	0x010
#define REG_BLOCK_SIZE		0x018
#define REG_NUM_BLOCKS		0x01c
#define REG_TOTAL_VFS		0x020
#define REG_VF_SLOTS		0x024
#define REG_ERROR		0x028
#define REG_TABLE_OFFSET	0x02c
#define ENTRY_VALID		BIT(31)
#define NO_BLOCK		U32_MAX

struct mgpu;

struct mgpu_vf {
	struct kobject kobj;		/* sriov_admin/vfN */
	struct kobject *profile;	/* sriov_admin/vfN/profile */
	struct mgpu *m;
	unsigned int vfid;		/* 1-based, as xe's */
};

struct mgpu {
	struct pci_dev *pdev;
	void __iomem *regs;
	u64 lmem_size;
	u64 vf_lmem_size;
	u32 block_size;
	u32 num_blocks;
	u32 total_vfs;
	u32 slots;
	u32 table_offset;

	struct mutex lock;		/* everything below */
	unsigned long *used;		/* PF blocks given to a VF */
	u32 *blocks;			/* [vf][slot]: PF block or NO_BLOCK */
	u32 *nr;			/* blocks per VF */
	bool *custom;			/* quota set by hand (not auto) */
	unsigned int *busy;		/* users of each VF's LMEM */
	bool auto_provisioned;

	struct kobject *admin;
	struct mgpu_vf **vf;
};

#define MGPU_LMEM_BAR		2

/* The driver's state of @pdev when it is a mock PF bound to this driver, else NULL. */
struct mgpu *mgpu_of(struct pci_dev *pdev);

#ifdef IOVH_MOCK_GPU_XLATE
void mgpu_xlate_register(void);
void mgpu_xlate_unregister(void);
#else
static inline void mgpu_xlate_register(void) { }
static inline void mgpu_xlate_unregister(void) { }
#endif

#endif
