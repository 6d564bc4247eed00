/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * The uAPI of iovh's stand-in importer module (kernel/iovh-ic-importer/):
 * /dev/iovh-ic, a misc device that imports a dma-buf the way xe does in the
 * IOV interconnect series (dynamic attach offering IOV, interconnect map
 * under the reservation lock) and lets userspace see and use the ranges it
 * got. One header for both sides: the module includes it under __KERNEL__
 * (where <linux/types.h> provides the fixed-width types), iovh's C core
 * without, through its own ioctl macros.
 */
#ifndef IOVH_UAPI_IOVH_IC_H
#define IOVH_UAPI_IOVH_IC_H

#ifdef __KERNEL__
#include <linux/build_bug.h>
#include <linux/ioctl.h>
#include <linux/stddef.h>
#include <linux/types.h>
#define IOVH_IC_IOR(nr, T) _IOR(IOVH_IC_IOCTL_TYPE, (nr), T)
#define IOVH_IC_IOWR(nr, T) _IOWR(IOVH_IC_IOCTL_TYPE, (nr), T)
#define IOVH_IC_ASSERT_SIZE(T, n) static_assert(sizeof(T) == (n))
#define IOVH_IC_ASSERT_OFF(T, f, n) static_assert(offsetof(T, f) == (n))
#define IOVH_IC_ASSERT_REQ(r, v) static_assert((r) == (v))
#else
#include <stdint.h>
#include "ioctl.h"
#define IOVH_IC_IOR(nr, T) IOVH_IOR(IOVH_IC_IOCTL_TYPE, (nr), T)
#define IOVH_IC_IOWR(nr, T) IOVH_IOWR(IOVH_IC_IOCTL_TYPE, (nr), T)
#define IOVH_IC_ASSERT_SIZE(T, n) IOVH_ASSERT_SIZE(T, n)
#define IOVH_IC_ASSERT_OFF(T, f, n) IOVH_ASSERT_OFF(T, f, n)
#define IOVH_IC_ASSERT_REQ(r, v) IOVH_ASSERT_REQ(r, v)
#endif

/* Unused in Documentation/userspace-api/ioctl/ioctl-number.rst (0xE5 is fuse). */
#define IOVH_IC_IOCTL_TYPE 0xE3
#define IOVH_IC_DEVICE "/dev/iovh-ic"
/* Bumped on any change to the structs or requests below. */
#define IOVH_IC_ABI_VERSION 1

/* Which interconnect API the module was built against (the kernel's headers decide). */
#define IOVH_IC_API_NONE 0   /* no series: plain dynamic P2P importer */
#define IOVH_IC_API_RFC_V1 1 /* enum type, CREATE_IOV_INTERCONNECT(), attach->interconnect */
#define IOVH_IC_API_RFC_V2 2 /* pointer type iov_interconnect, MATCH_INTERCONNECT(), attach->ic_match */

/* What the module does with the interconnect ranges it maps (mirrors xe of the same revision). */
#define IOVH_IC_KEEP_LEAK 0   /* v1: copies them and drops the container without unmapping (xe_bo_move_dmabuf) */
#define IOVH_IC_KEEP_UNMAP 1  /* v2: keeps the container and unmaps it at the next map and at release */

struct iovh_ic_version {
	uint32_t abi;    /* out: IOVH_IC_ABI_VERSION */
	uint32_t api;    /* out: IOVH_IC_API_* */
	uint32_t keep;   /* out: IOVH_IC_KEEP_* */
	uint32_t xlate;  /* out: 0 = identity (CPU physical = range address); others: a translation hook */
};
IOVH_IC_ASSERT_SIZE(struct iovh_ic_version, 16);

/* Import flags: which parts of xe's attach ops the import offers. */
#define IOVH_IC_IMPORT_OFFER_IOV (1u << 0)  /* supports_interconnects offering IOV (device, bar) */
#define IOVH_IC_IMPORT_P2P (1u << 1)        /* allow_peer2peer */
#define IOVH_IC_IMPORT_REVOCABLE (1u << 2)  /* invalidate_mappings (a dynamic attachment) */
#define IOVH_IC_IMPORT_XE (IOVH_IC_IMPORT_OFFER_IOV | IOVH_IC_IMPORT_P2P | IOVH_IC_IMPORT_REVOCABLE)
/*
 * Defer the scatter-gather unmap as xe does: invalidate_mappings only marks
 * the import; the mapping is dropped at the next IOVH_IC_MAP or at release
 * (xe_dma_buf_move_notify() evicts, the unmap waits for the next
 * validation). A revoke that waits for importers to unmap (vfio's revoke
 * since 7.1) then waits for that MAP or release.
 */
#define IOVH_IC_IMPORT_DEFER_UNMAP (1u << 3)
#define IOVH_IC_IMPORT_FLAGS (IOVH_IC_IMPORT_XE | IOVH_IC_IMPORT_DEFER_UNMAP)

/*
 * IOVH_IC_IMPORT: dma_buf_get(fd), then dma_buf_dynamic_attach() with the PCI
 * device at (segment, bus, devfn) as the importer device, as xe attaches with
 * its own PF. Negotiation happens inside the exporter's attach.
 */
struct iovh_ic_import {
	int32_t fd;          /* in: dma-buf fd */
	uint32_t flags;      /* in: IOVH_IC_IMPORT_* */
	uint32_t segment;    /* in: importer device's PCI domain */
	uint32_t bus;        /* in: its bus number */
	uint32_t devfn;      /* in: PCI_DEVFN(slot, func) */
	uint32_t bar;        /* in: BAR offered with IOV (xe: LMEM_BAR = 2) */
	uint32_t handle;     /* out: import handle, > 0 */
	uint32_t negotiated; /* out: 1 when the attachment negotiated IOV */
	uint64_t size;       /* out: dma-buf size in bytes */
};
IOVH_IC_ASSERT_SIZE(struct iovh_ic_import, 40);
IOVH_IC_ASSERT_OFF(struct iovh_ic_import, size, 32);

#define IOVH_IC_PATH_NONE 0 /* not mapped */
#define IOVH_IC_PATH_IOV 1  /* dma_buf_map_interconnect() */
#define IOVH_IC_PATH_SG 2   /* dma_buf_map_attachment() (the ordinary P2P path) */

struct iovh_ic_range {
	uint64_t start; /* first byte */
	uint64_t end;   /* last byte (inclusive, struct range) */
};
IOVH_IC_ASSERT_SIZE(struct iovh_ic_range, 16);

/*
 * IOVH_IC_MAP: under the dma-buf's reservation lock, as xe_bo_move_dmabuf()
 * does: the interconnect map when IOV was negotiated, the scatter-gather map
 * otherwise or when the interconnect map fails (ic_error says why).
 */
struct iovh_ic_map {
	uint32_t handle;    /* in */
	uint32_t path;      /* out: IOVH_IC_PATH_* */
	int32_t ic_error;   /* out: the interconnect map's -errno when it fell back, else 0 */
	uint32_t nr_ranges; /* out: ranges (interconnect) or sg entries held now */
};
IOVH_IC_ASSERT_SIZE(struct iovh_ic_map, 16);

#define IOVH_IC_STATE_NEGOTIATED (1u << 0)
#define IOVH_IC_STATE_MAPPED (1u << 1)
#define IOVH_IC_STATE_INVALIDATED (1u << 2) /* invalidate_mappings ran since the last map */

/*
 * IOVH_IC_INFO: what the import holds. ranges_ptr points at room for
 * nr_ranges entries; on return nr_ranges is the number held (copied up to
 * the room given): interconnect ranges for PATH_IOV, {dma address, last
 * byte} per sg entry for PATH_SG.
 */
struct iovh_ic_info {
	uint32_t handle;        /* in */
	uint32_t state;         /* out: IOVH_IC_STATE_* */
	uint32_t path;          /* out: IOVH_IC_PATH_* */
	uint32_t nr_ranges;     /* in: room; out: held */
	uint64_t ranges_ptr;    /* in: struct iovh_ic_range[nr_ranges] */
	uint64_t size;          /* out: dma-buf size */
	uint32_t maps;          /* out: successful maps */
	uint32_t invalidations; /* out: invalidate_mappings calls */
	uint32_t leaked;        /* out: interconnect containers dropped without unmap (IOVH_IC_KEEP_LEAK) */
	uint32_t pad;
};
IOVH_IC_ASSERT_SIZE(struct iovh_ic_info, 48);
IOVH_IC_ASSERT_OFF(struct iovh_ic_info, ranges_ptr, 16);

#define IOVH_IC_RW_READ 0
#define IOVH_IC_RW_WRITE 1

/*
 * IOVH_IC_RW: CPU access to the exported memory through the interconnect
 * ranges (offset is within the dma-buf: the ranges laid end to end, as the
 * exporter's ranges are). EOPNOTSUPP unless mapped through the interconnect.
 */
struct iovh_ic_rw {
	uint32_t handle;  /* in */
	uint32_t op;      /* in: IOVH_IC_RW_* */
	uint64_t offset;  /* in: byte offset in the dma-buf */
	uint64_t len;     /* in: bytes, at most IOVH_IC_RW_MAX */
	uint64_t buf_ptr; /* in: user buffer */
};
IOVH_IC_ASSERT_SIZE(struct iovh_ic_rw, 32);
#define IOVH_IC_RW_MAX (1u << 20)

struct iovh_ic_release {
	uint32_t handle; /* in */
	uint32_t pad;
};
IOVH_IC_ASSERT_SIZE(struct iovh_ic_release, 8);

#define IOVH_IC_VERSION IOVH_IC_IOR(0x00, struct iovh_ic_version)
#define IOVH_IC_IMPORT IOVH_IC_IOWR(0x01, struct iovh_ic_import)
#define IOVH_IC_MAP IOVH_IC_IOWR(0x02, struct iovh_ic_map)
#define IOVH_IC_INFO IOVH_IC_IOWR(0x03, struct iovh_ic_info)
#define IOVH_IC_RW IOVH_IC_IOWR(0x04, struct iovh_ic_rw)
#define IOVH_IC_RELEASE IOVH_IC_IOWR(0x05, struct iovh_ic_release)
IOVH_IC_ASSERT_REQ(IOVH_IC_VERSION, 0x8010e300UL);
IOVH_IC_ASSERT_REQ(IOVH_IC_IMPORT, 0xc028e301UL);
IOVH_IC_ASSERT_REQ(IOVH_IC_MAP, 0xc010e302UL);
IOVH_IC_ASSERT_REQ(IOVH_IC_INFO, 0xc030e303UL);
IOVH_IC_ASSERT_REQ(IOVH_IC_RW, 0xc020e304UL);
IOVH_IC_ASSERT_REQ(IOVH_IC_RELEASE, 0xc008e305UL);

#endif
