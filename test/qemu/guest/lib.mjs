// @ts-check
// iovh's modules as the guest program uses them, loaded from a checkout's
// dist/ (what `npm run build:ts` compiles): neither the guest nor the host's
// conformance run has a TypeScript loader. The kernel wrappers the scenarios
// call are typed from src/; the entry points (backends, CLI) by the little
// this program uses of them, so type-checking it does not pull in all of src/.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * @typedef {import('../../../src/backend/types.js').Backend} Backend
 * @typedef {{ createNativeBackend(o: { reason?: string }): Backend }} NativeModule
 * @typedef {{ loadAddon(): { addon: unknown, error?: string } }} AddonModule
 * @typedef {{ createMockBackend(o: { statePath?: string, topology?: string, profile?: import('../../../src/mock/contracts.js').ProfileName, reason?: string }): Backend }} MockModule
 * @typedef {{ main(argv: string[]): Promise<number> }} CliModule
 */

/**
 * @param {string} repo the checkout
 */
export async function loadLib(repo) {
  /** @param {string} p */
  const mod = (p) => import(pathToFileURL(join(repo, 'dist', p)).href);
  const [
    vfio,
    drm,
    bufinfo,
    uapi,
    iommufd,
    tracefs,
    monitors,
    native,
    addon,
    mock,
    cli,
    runner,
    timing,
    steps,
    iovhIc,
    last,
  ] = await Promise.all([
    /** @type {Promise<typeof import('../../../src/uapi/vfio.js')>} */ (mod('uapi/vfio.js')),
    /** @type {Promise<typeof import('../../../src/uapi/drm.js')>} */ (mod('uapi/drm.js')),
    /** @type {Promise<typeof import('../../../src/uapi/bufinfo.js')>} */ (mod('uapi/bufinfo.js')),
    /** @type {Promise<typeof import('../../../src/uapi/constants.js')>} */ (mod('uapi/constants.js')),
    /** @type {Promise<typeof import('../../../src/uapi/iommufd.js')>} */ (mod('uapi/iommufd.js')),
    /** @type {Promise<typeof import('../../../src/harness/tracefs.js')>} */ (mod('harness/tracefs.js')),
    /** @type {Promise<typeof import('../../../src/harness/monitors.js')>} */ (mod('harness/monitors.js')),
    /** @type {Promise<NativeModule>} */ (mod('backend/native.js')),
    /** @type {Promise<AddonModule>} */ (mod('core/addon.js')),
    /** @type {Promise<MockModule>} */ (mod('mock/backend.js')),
    /** @type {Promise<CliModule>} */ (mod('cli/main.js')),
    /** @type {Promise<typeof import('../../../src/harness/runner.js')>} */ (mod('harness/runner.js')),
    /** @type {Promise<typeof import('../../../src/harness/timing.js')>} */ (mod('harness/timing.js')),
    /** @type {Promise<typeof import('../../../src/qemu/steps.js')>} */ (mod('qemu/steps.js')),
    /** @type {Promise<typeof import('../../../src/uapi/iovh-ic.js')>} */ (mod('uapi/iovh-ic.js')),
    /** @type {Promise<typeof import('../../../src/qemu/last.js')>} */ (mod('qemu/last.js')),
  ]);
  /** @type {import('./detectors.mjs').Harness} */
  const harness = { runScenarios: runner.runScenarios, timingFor: timing.timingFor };
  return {
    lib: { vfio, drm, bufinfo, uapi, iommufd, tracefs, monitors, steps, iovhIc, last },
    native,
    addon,
    mock,
    cli,
    harness,
  };
}
