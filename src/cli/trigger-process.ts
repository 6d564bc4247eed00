// Entry point of a trigger process on a real kernel (src/harness/trigger.ts
// spawns it with the scenario's VFIO device fd as its fd 3): one operation on
// that device, in a process other than the one that holds the import, so a
// revoke that waits for the importer leaves this process, not the scenario,
// asleep in the kernel. It says `ready` before the system call and its
// outcome after it, one JSON line each, on stdout (a pipe: synchronous on
// Linux, so `ready` is out before the call blocks).
//
//   node trigger-process.js '{"op":"reset"}' | '{"op":"write","offset":"...","data":"<hex>"}' | '{"op":"close"}'
import { createNativeBackend } from '../backend/native.js';
import { EXIT } from '../report/exit.js';

const DEVICE_FD = 3;

function say(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

async function main(): Promise<void> {
  let req: { op?: unknown; offset?: unknown; data?: unknown };
  try {
    req = JSON.parse(process.argv[2] ?? '') as typeof req;
  } catch {
    say({ error: 'usage: trigger-process.js <JSON request>' });
    process.exitCode = EXIT.USAGE;
    return;
  }
  const backend = createNativeBackend({ reason: 'trigger process' });
  // VFIO_DEVICE_RESET runs on a libuv worker thread: while it sleeps in the kernel nothing else keeps the event
  // loop alive, and the main thread would exit, leaving a zombie whose worker thread is the task in D state.
  const alive = setInterval(() => undefined, 1 << 30);
  say({ ready: true, pid: process.pid });
  let code: string | null = null;
  try {
    if (req.op === 'reset') await backend.dev.vfioDeviceReset(DEVICE_FD);
    else if (req.op === 'write' && typeof req.offset === 'string' && typeof req.data === 'string')
      backend.dev.vfioRegionWrite(DEVICE_FD, BigInt(req.offset), Buffer.from(req.data, 'hex'));
    else if (req.op === 'close') backend.dev.close(DEVICE_FD);
    else throw new Error(`unknown request ${JSON.stringify(req)}`);
  } catch (e) {
    code = (e as { code?: string }).code ?? (e as Error).message;
  }
  say({ done: true, code });
  clearInterval(alive);
}

void main();
