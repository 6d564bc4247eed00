/* The ABI checker (scripts/abi-check.sh): one list of every struct, field,
 * ioctl request and constant core/uapi defines (generated from those
 * headers by scripts/abi-list.mjs), compiled twice: once against our headers
 * (ours.c), once against the kernel's uapi headers from linux-libc-dev
 * (kernel.c). main.c compares the two tables entry by entry. */
#ifndef IOVH_ABI_H
#define IOVH_ABI_H

enum abi_kind { ABI_SIZE, ABI_ALIGN, ABI_OFFSET, ABI_REQUEST, ABI_VALUE };

struct abi_entry {
	enum abi_kind kind;
	const char *name;
	unsigned long long value;
};

#define IOVH_ABI_SIZE(s) { ABI_SIZE, "struct " #s, sizeof(struct s) },
#define IOVH_ABI_ALIGN(s) { ABI_ALIGN, "struct " #s, _Alignof(struct s) },
#define IOVH_ABI_OFF(s, f) { ABI_OFFSET, #s "." #f, __builtin_offsetof(struct s, f) },
#define IOVH_ABI_REQ(r) { ABI_REQUEST, #r, (unsigned long long)(r) },
#define IOVH_ABI_VAL(v) { ABI_VALUE, #v, (unsigned long long)(v) },

extern const struct abi_entry abi_ours[];
extern const unsigned abi_ours_count;
extern const struct abi_entry abi_kernel[];
extern const unsigned abi_kernel_count;
/* Kernel or libc values with no definition of ours (kernel.c only; written to the JSON). */
extern const struct abi_entry abi_extra[];
extern const unsigned abi_extra_count;

#endif
