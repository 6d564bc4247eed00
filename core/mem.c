/* Mappings (mmap/munmap of device, dma-buf and DRM fds) and the SIGBUS guard
 * for accesses to them. The data pattern is in pattern.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include "iovh.h"

int __mem_map(int fd, uint64_t offset, size_t length, int prot, void **addr)
{
	void *p = mmap(NULL, length, prot, MAP_SHARED, fd, (off_t)offset);

	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	return 0;
}

int __mem_map_anon(size_t length, void **addr)
{
	void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	return 0;
}

int __mem_protect(void *addr, size_t length, int prot)
{
	return mprotect(addr, length, prot) == -1 ? -errno : 0;
}

int __mem_unmap(void *addr, size_t length)
{
	return munmap(addr, length) == -1 ? -errno : 0;
}

/* SIGBUS guard. A mapping can stop being backed while we hold it: a memfd
 * truncated under it, a VFIO BAR whose memory decoding is off or whose
 * device is being reset (vfio_pci_mmap_huge_fault returns VM_FAULT_SIGBUS,
 * drivers/vfio/pci/vfio_pci_core.c). An access then raises SIGBUS, which
 * would kill the process; under the guard it ends the access instead and the
 * caller gets -EFAULT. Accesses run on one thread (the JS thread), so one
 * thread-local jump buffer is enough. */
static __thread sigjmp_buf *guard_jump;
static struct sigaction guard_previous;

static void guard_handler(int sig, siginfo_t *info, void *context)
{
	(void)sig;
	(void)info;
	(void)context;
	if (guard_jump)
		siglongjmp(*guard_jump, 1);
	/* Not an access of ours: give the signal back to whoever had it. The
	 * faulting instruction runs again and meets the previous disposition. */
	sigaction(SIGBUS, &guard_previous, NULL);
}

int __mem_guard_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = guard_handler;
	/* NODEFER: SIGBUS stays unblocked after the jump, so a later fault is caught too. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, &guard_previous) == -1 ? -errno : 0;
}

int mem_guarded(void (*access)(void *), void *arg)
{
	sigjmp_buf jump;
	sigjmp_buf *volatile outer = guard_jump;

	if (sigsetjmp(jump, 0)) {
		guard_jump = outer;
		return -EFAULT;
	}
	guard_jump = &jump;
	access(arg);
	guard_jump = outer;
	return 0;
}
