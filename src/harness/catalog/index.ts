// The scenario catalog, in run order. Ids are stable: baselines, CI history
// and the LAVA/KCIDB test paths key on them. The capability probe is first;
// the lifecycle scenarios come after everything that needs the VFs as they
// were set up (vf-disable-while-imported takes them away and puts them back),
// and the bugs/* scenarios, leak/lmem-object, then lifecycle/close-while-revoked come last of all.
// The rfc/* group (the series judged with the stand-in importer) runs before the bugs/* ones.

import type { Scenario } from '../scenario.js';
import { capsKernel } from './caps.js';
import { exportScenarios } from './export.js';
import { importScenarios } from './import.js';
import { dataScenarios } from './data.js';
import { edgeScenarios } from './edge.js';
import { leakLmemObject, leakScenarios } from './leak.js';
import { stressScenarios } from './stress.js';
import { lifecycleCloseWhileRevoked, lifecycleScenarios } from './lifecycle.js';
import { iommufdScenarios } from './iommufd.js';
import { bugsScenarios } from './bugs.js';
import { rfcScenarios } from './rfc.js';
import { revokeControlScenarios, revokeHangScenarios } from './revoke.js';
import { importP2pRoute } from './p2p.js';

export const CATALOG: readonly Scenario[] = [
  capsKernel,
  ...exportScenarios,
  ...importScenarios,
  importP2pRoute,
  ...dataScenarios,
  ...edgeScenarios,
  ...lifecycleScenarios,
  // After lifecycle: with the interconnect RFC v1, iommufd/revoke-on-close oopses (closed-vdev-oops), and
  // the taint it leaves must not hide an earlier scenario's own oops.
  ...iommufdScenarios,
  // The same revoke triggers as bugs/revoke-hang-*, from another process, with iommufd importing: they must complete.
  ...revokeControlScenarios,
  ...leakScenarios,
  ...stressScenarios,
  // The series' own code with the stand-in importer; rfc/closed-device oopses on RFC v1, as
  // iommufd/revoke-on-close does before it.
  ...rfcScenarios,
  // The merged path's known bugs: late (a use-after-free leaves the kernel's memory suspect for what comes after),
  // but before leak/lmem-object, which on a kernel that leaks LMEM references cannot give the VFs back.
  // The revoke hangs first: each ends with its trigger complete (the import released) or abandoned; then
  // bugs/opath-stale-file, whose use-after-free leaves nothing after it on a kernel that can be trusted.
  ...revokeHangScenarios,
  ...bugsScenarios,
  // After everything that translates: on a kernel that leaks LMEM references, the VFs it disables come back short of VRAM.
  leakLmemObject,
  // Last: on a kernel with the kref underflow it leaves the VF held by a task that never returns.
  lifecycleCloseWhileRevoked,
];

export function scenarioById(id: string): Scenario | undefined {
  return CATALOG.find((s) => s.id === id);
}
