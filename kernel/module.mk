# SPDX-License-Identifier: GPL-2.0
# The out-of-tree build of iovh's kernel modules (each directory's Makefile
# includes this file; what it builds is in its Kbuild):
#   make KDIR=<kernel build dir> [MO=<output dir>]
# (MO keeps objects out of the module's directory; Linux 6.13+.)
KDIR ?= /lib/modules/$(shell uname -r)/build

all:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(if $(MO),MO=$(MO)) modules

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(if $(MO),MO=$(MO)) clean

.PHONY: all clean
