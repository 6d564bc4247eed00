/* Values src/uapi/constants.ts uses that core/uapi does not define because the
 * C core takes them from libc (memfd_create, fcntl seals, open and mmap
 * flags). Evaluated in kernel.c only, for the TypeScript constants check. */
IOVH_ABI_VAL(MFD_CLOEXEC)
IOVH_ABI_VAL(MFD_ALLOW_SEALING)
IOVH_ABI_VAL(F_SEAL_SEAL)
IOVH_ABI_VAL(F_SEAL_SHRINK)
IOVH_ABI_VAL(F_SEAL_GROW)
IOVH_ABI_VAL(F_SEAL_WRITE)
IOVH_ABI_VAL(O_RDONLY)
IOVH_ABI_VAL(O_WRONLY)
IOVH_ABI_VAL(O_RDWR)
IOVH_ABI_VAL(O_NONBLOCK)
IOVH_ABI_VAL(O_CLOEXEC)
IOVH_ABI_VAL(O_PATH)
IOVH_ABI_VAL(PROT_READ)
IOVH_ABI_VAL(PROT_WRITE)
