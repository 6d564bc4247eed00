// The lines a QEMU guest writes to /dev/kmsg around its last run (bugs/*,
// src/qemu/last.ts runLast, for `iovh qemu`'s guest program and the CI's
// test/qemu/guest/flow.mjs alike), at KERN_ERR so that a `quiet` console shows
// them. The host's verdict (scripts/qemu-ci/verdict.mjs parseSerial, which
// imports this module from dist/) sets the console's kernel reports between
// them apart: they are expected only when every failure of that run is a
// known bug of the kernel's baseline.

export const LAST_BEGIN = 'iovh: kernel reports of the last run (bugs/*) begin';
export const LAST_END = 'iovh: kernel reports of the last run end';
