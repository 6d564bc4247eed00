// @ts-check
// iovh's modules as the scenarios use them, loaded from a checkout's dist/
// (what `npm run build:ts` compiles): the guest has no TypeScript loader.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** @param {string} repo the checkout */
export async function loadLib(repo) {
  const mod = (/** @type {string} */ p) => import(pathToFileURL(join(repo, 'dist', p)).href);
  const [vfio, drm, bufinfo, uapi, native, addon] = await Promise.all([
    mod('kernel/vfio.js'), mod('kernel/drm.js'), mod('kernel/bufinfo.js'), mod('kernel/uapi.js'), mod('backend/native.js'), mod('native/addon.js'),
  ]);
  return { lib: { vfio, drm, bufinfo, uapi }, native, addon };
}
