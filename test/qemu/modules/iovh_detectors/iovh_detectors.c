// SPDX-License-Identifier: GPL-2.0
/*
 * iovh's QEMU CI: make each kernel detector report for real, on demand, in
 * the context of the task that asks, so the harness's monitors can be checked
 * against what a real kernel prints. Test kernels only: every trigger is a
 * deliberate kernel bug.
 *
 *   echo uaf    > /sys/kernel/debug/iovh_detectors/trigger   KASAN slab-use-after-free (read)
 *   echo abba   > ...   lockdep: two mutexes taken in both orders (no deadlock: one task)
 *   echo leak   > ...   kmemleak: allocations no pointer refers to
 *   echo hang N > ...   sleep N seconds in TASK_UNINTERRUPTIBLE (the hung task detector)
 *   echo warn   > ...   WARN()
 */
#include <linux/compiler.h>
#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

static DEFINE_MUTEX(iovh_a);
static DEFINE_MUTEX(iovh_b);
static struct dentry *iovh_dir;
/* Read back after the use-after-free so the compiler keeps the load. */
static volatile char iovh_sink;

static noinline void iovh_uaf(void)
{
	char *p = kmalloc(64, GFP_KERNEL);

	if (!p)
		return;
	kfree(p);
	OPTIMIZER_HIDE_VAR(p);
	iovh_sink = READ_ONCE(p[8]);
}

static noinline void iovh_abba(void)
{
	mutex_lock(&iovh_a);
	mutex_lock(&iovh_b);
	mutex_unlock(&iovh_b);
	mutex_unlock(&iovh_a);

	mutex_lock(&iovh_b);
	mutex_lock(&iovh_a);
	mutex_unlock(&iovh_a);
	mutex_unlock(&iovh_b);
}

/*
 * kmemleak scans every task's whole stack, dead frames included
 * (mm/kmemleak.c, kmemleak_scan -> scan_object of task_stack_page): a pointer
 * left in a spilled slot of a returned frame (ours, or kmalloc's below it)
 * still counts as a reference, and the object is never reported. So after
 * leaking, the frames below the trigger are overwritten: a chain of calls
 * that each zero a buffer after calling the next (no tail call to fold the
 * chain into one frame).
 */
static noinline void iovh_wipe_stack(int depth)
{
	char buf[512];

	if (depth > 0)
		iovh_wipe_stack(depth - 1);
	memzero_explicit(buf, sizeof(buf));
}

/*
 * Allocated in the writer's context, so kmemleak names the writer's pid and
 * comm. Small objects and large ones: a small kmalloc object comes from a
 * slab whose bookkeeping (freelists, per-CPU object arrays) may keep a stale
 * copy of its address in memory kmemleak scans; a kmalloc larger than
 * KMALLOC_MAX_CACHE_SIZE comes from the page allocator (mm/slub.c,
 * __kmalloc_large_node, which registers it with kmemleak) and leaves no such
 * copy. (The guest saw no small object reported: 0 unreferenced objects.)
 */
static noinline void iovh_leak(void)
{
	int i;

	for (i = 0; i < 8; i++) {
		void *p = kmalloc(128, GFP_KERNEL);

		OPTIMIZER_HIDE_VAR(p);
		p = NULL;
	}
	for (i = 0; i < 4; i++) {
		void *p = kmalloc(KMALLOC_MAX_CACHE_SIZE + PAGE_SIZE, GFP_KERNEL);

		OPTIMIZER_HIDE_VAR(p);
		p = NULL;
	}
}

static ssize_t iovh_trigger(struct file *file, const char __user *ubuf, size_t len, loff_t *ppos)
{
	char buf[32];
	unsigned int secs;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	strim(buf);

	if (!strcmp(buf, "uaf"))
		iovh_uaf();
	else if (!strcmp(buf, "abba"))
		iovh_abba();
	else if (!strcmp(buf, "leak")) {
		iovh_leak();
		iovh_wipe_stack(12);
	}
	else if (!strcmp(buf, "warn"))
		WARN(1, "iovh_detectors: a deliberate warning\n");
	else if (sscanf(buf, "hang %u", &secs) == 1 && secs > 0 && secs <= 120)
		schedule_timeout_uninterruptible(secs * HZ);
	else
		return -EINVAL;
	return len;
}

static const struct file_operations iovh_fops = {
	.owner = THIS_MODULE,
	.write = iovh_trigger,
};

static int __init iovh_detectors_init(void)
{
	iovh_dir = debugfs_create_dir("iovh_detectors", NULL);
	debugfs_create_file("trigger", 0200, iovh_dir, NULL, &iovh_fops);
	return 0;
}

static void __exit iovh_detectors_exit(void)
{
	debugfs_remove_recursive(iovh_dir);
}

module_init(iovh_detectors_init);
module_exit(iovh_detectors_exit);
MODULE_DESCRIPTION("iovh CI: trigger KASAN, lockdep, kmemleak, hung-task and WARN reports on demand");
MODULE_LICENSE("GPL");
