// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * Run the scenarios for one device (a VF or the PF, bound to vfio-pci), each
 * id prefixed `iommufd.<role>.`. Without /dev/iommu every one skips.
 * @param {{ backend: import('../../../src/backend/types.js').Backend, lib: Lib, bdf: string, role: 'vf' | 'pf', onResult?: (r: Result) => void }} o
 * @returns {Promise<Result[]>}
 */
export function runIommufdScenarios(o: {
    backend: import("../../../src/backend/types.js").Backend;
    lib: Lib;
    bdf: string;
    role: "vf" | "pf";
    onResult?: (r: Result) => void;
}): Promise<Result[]>;
/**
 * @typedef {import('./scenarios.mjs').Outcome} Outcome
 * @typedef {import('./scenarios.mjs').Result} Result
 * @typedef {import('./scenarios.mjs').Lib & { iommufd: typeof import('../../../src/uapi/iommufd.js') }} Lib
 * @typedef {import('../../../src/uapi/vfio.js').VfioDevice} VfioDevice
 * @typedef {import('../../../src/uapi/dmabuf.js').DmaBuf} DmaBuf
 *
 * @typedef {object} Ctx
 * @property {import('../../../src/backend/types.js').Backend} backend
 * @property {Lib} lib
 * @property {string} bdf                 the device under test, bound to vfio-pci
 * @property {'vf' | 'pf'} role
 * @property {number | null} bar          a memory BAR with mmap of at least 2 pages, once found
 * @property {string | null} cdevNode      /dev/vfio/devices/vfioN of the device, when the kernel has the cdev
 *
 * @typedef {object} Scenario
 * @property {string} id      without the `iommufd.<role>.` prefix
 * @property {string} title
 * @property {Array<'iommufd' | 'bar' | 'cdev'>} needs
 * @property {string} rule    the kernel rule it pins, named when the mock disagrees
 * @property {(ctx: Ctx) => Outcome | Promise<Outcome>} run
 */
/** @type {Scenario[]} */
export const IOMMUFD_SCENARIOS: Scenario[];
/**
 * The kernel rule of each scenario id, for both roles (conformance names it on a disagreement).
 * @type {Record<string, string>}
 */
export const IOMMUFD_RULES: Record<string, string>;
export type Outcome = import("./scenarios.mjs").Outcome;
export type Result = import("./scenarios.mjs").Result;
export type Lib = import("./scenarios.mjs").Lib & {
    iommufd: typeof import("../../../src/uapi/iommufd.js");
};
export type VfioDevice = import("../../../src/uapi/vfio.js").VfioDevice;
export type DmaBuf = import("../../../src/uapi/dmabuf.js").DmaBuf;
export type Ctx = {
    backend: import("../../../src/backend/types.js").Backend;
    lib: Lib;
    /**
     * the device under test, bound to vfio-pci
     */
    bdf: string;
    role: "vf" | "pf";
    /**
     * a memory BAR with mmap of at least 2 pages, once found
     */
    bar: number | null;
    /**
     * /dev/vfio/devices/vfioN of the device, when the kernel has the cdev
     */
    cdevNode: string | null;
};
export type Scenario = {
    /**
     * without the `iommufd.<role>.` prefix
     */
    id: string;
    title: string;
    needs: Array<"iommufd" | "bar" | "cdev">;
    /**
     * the kernel rule it pins, named when the mock disagrees
     */
    rule: string;
    run: (ctx: Ctx) => Outcome | Promise<Outcome>;
};
