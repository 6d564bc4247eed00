/* ioctl request encoding (include/uapi/asm-generic/ioctl.h; x86_64 uses the
 * generic layout): nr 8 bits, type 8 bits, size 14 bits, direction 2 bits.
 * Our own macros, so these headers never need the system's linux/ headers. */
#ifndef IOVH_UAPI_IOCTL_H
#define IOVH_UAPI_IOCTL_H

#define IOVH_IOC_NONE 0U
#define IOVH_IOC_WRITE 1U
#define IOVH_IOC_READ 2U

#define IOVH_IOC(dir, type, nr, size) \
	((unsigned long)(((unsigned long)(dir) << 30) | ((unsigned long)(size) << 16) | \
			 ((unsigned long)(type) << 8) | (unsigned long)(nr)))

#define IOVH_IO(type, nr) IOVH_IOC(IOVH_IOC_NONE, (type), (nr), 0)
#define IOVH_IOR(type, nr, T) IOVH_IOC(IOVH_IOC_READ, (type), (nr), sizeof(T))
#define IOVH_IOW(type, nr, T) IOVH_IOC(IOVH_IOC_WRITE, (type), (nr), sizeof(T))
#define IOVH_IOWR(type, nr, T) IOVH_IOC(IOVH_IOC_READ | IOVH_IOC_WRITE, (type), (nr), sizeof(T))

/* Compile-time layout checks; the binding (C++) includes these headers too. */
#ifdef __cplusplus
#define IOVH_STATIC_ASSERT static_assert
#define IOVH_ALIGNOF alignof
#else
#define IOVH_STATIC_ASSERT _Static_assert
#define IOVH_ALIGNOF _Alignof
#endif
#define IOVH_ASSERT_SIZE(T, n) IOVH_STATIC_ASSERT(sizeof(T) == (n), "sizeof(" #T ") must be " #n)
#define IOVH_ASSERT_OFF(T, f, n) IOVH_STATIC_ASSERT(__builtin_offsetof(T, f) == (n), "offsetof(" #T ", " #f ") must be " #n)
#define IOVH_ASSERT_ALIGN(T, n) IOVH_STATIC_ASSERT(IOVH_ALIGNOF(T) == (n), "alignof(" #T ") must be " #n)
#define IOVH_ASSERT_REQ(r, v) IOVH_STATIC_ASSERT((r) == (unsigned long)(v), #r " must be " #v)

#endif
