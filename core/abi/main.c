/* Compare our uapi (core/uapi) with the kernel's, print every comparison,
 * exit 1 on any mismatch. `--json FILE` also writes the kernel's values by
 * name, for the TypeScript constants check (scripts/abi-check-ts.mjs). */
#include <stdio.h>
#include <string.h>

#include "abi.h"

static const char *const kinds[] = { "size", "align", "offset", "request", "value" };

int main(int argc, char **argv)
{
	const char *json = NULL, *against = "the kernel's uapi headers";
	unsigned counts[5] = { 0 }, failed = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--json"))
			json = argv[i + 1];
		else if (!strcmp(argv[i], "--against"))
			against = argv[i + 1];
	}
	if (abi_ours_count != abi_kernel_count) {
		fprintf(stderr, "abi-check: the two tables differ in length (%u vs %u): build problem\n", abi_ours_count,
			abi_kernel_count);
		return 2;
	}
	printf("abi-check: core/uapi against %s\n", against);
	for (unsigned i = 0; i < abi_ours_count; i++) {
		const struct abi_entry *o = &abi_ours[i], *k = &abi_kernel[i];
		int ok = o->value == k->value;
		int hex = o->kind == ABI_REQUEST;

		counts[o->kind]++;
		if (ok)
			printf(hex ? "  ok    %-7s %-58s 0x%llx\n" : "  ok    %-7s %-58s %llu\n", kinds[o->kind], o->name,
			       o->value);
		else {
			failed++;
			printf(hex ? "  FAIL  %-7s %-58s ours 0x%llx, kernel 0x%llx\n" :
				     "  FAIL  %-7s %-58s ours %llu, kernel %llu\n",
			       kinds[o->kind], o->name, o->value, k->value);
		}
	}
	printf("abi-check: %u compared (%u struct sizes, %u alignments, %u field offsets, %u ioctl requests, %u constants): ",
	       abi_ours_count, counts[ABI_SIZE], counts[ABI_ALIGN], counts[ABI_OFFSET], counts[ABI_REQUEST],
	       counts[ABI_VALUE]);
	if (failed)
		printf("%u MISMATCH%s\n", failed, failed == 1 ? "" : "ES");
	else
		printf("all match\n");

	if (json) {
		FILE *f = fopen(json, "w");

		if (!f) {
			perror(json);
			return 2;
		}
		fprintf(f, "{\n");
		for (unsigned i = 0; i < abi_kernel_count; i++)
			fprintf(f, "  \"%s %s\": \"%llu\",\n", kinds[abi_kernel[i].kind], abi_kernel[i].name,
				abi_kernel[i].value);
		for (unsigned i = 0; i < abi_extra_count; i++)
			fprintf(f, "  \"%s %s\": \"%llu\"%s\n", kinds[abi_extra[i].kind], abi_extra[i].name,
				abi_extra[i].value, i + 1 < abi_extra_count ? "," : "");
		fprintf(f, "}\n");
		if (fclose(f)) {
			perror(json);
			return 2;
		}
	}
	return failed ? 1 : 0;
}
