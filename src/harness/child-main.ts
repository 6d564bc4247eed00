// Entry point of a scenario process on the native backend (executor.ts
// ChildProcessExecutor forks it): the catalog's scenarios on a native backend
// of its own.
import { createNativeBackend } from '../backend/native.js';
import { scenarioById } from './catalog/index.js';
import { serveScenario } from './child.js';

serveScenario({
  open: (root) => createNativeBackend({ ...(root !== null ? { root } : {}), reason: 'scenario process' }),
  find: scenarioById,
});
