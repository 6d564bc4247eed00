/* The ABI list evaluated against our own definitions (core/uapi). */
#include "abi.h"
#include "iovh.h"

const struct abi_entry abi_ours[] = {
#include "abi-list.h"
};
const unsigned abi_ours_count = sizeof(abi_ours) / sizeof(abi_ours[0]);
