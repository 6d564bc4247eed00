// Entry point of a scenario process on a real kernel (src/harness/executor.ts
// ChildProcessExecutor forks it; `iovh run` finds it with scenarioProcessEntry
// in src/api/run.ts): the catalog's scenarios on a native backend of its own.
import { createNativeBackend } from '../backend/native.js';
import { scenarioById } from '../harness/catalog/index.js';
import { serveScenario } from '../harness/child.js';

serveScenario({
  open: (root) => createNativeBackend({ ...(root !== null ? { root } : {}), reason: 'scenario process' }),
  find: scenarioById,
});
