// The one way iovh handles SIGINT and SIGTERM, for every command that runs
// for a while (`run`, and the commands that change the machine): the first
// signal asks the work to stop where it safely can (after the current
// scenario's cleanups; between two sysfs writes, the journal saying where),
// through an AbortSignal the library code watches; a second one exits at once
// with the shell's 128 + signal (src/report/exit.ts). The journal is written
// before every write, so even that exit leaves the machine restorable.
import { signalExit } from '../report/exit.js';

export interface SignalTrap {
  /** Aborted with the signal's name ('SIGINT', 'SIGTERM') at the first signal. */
  readonly signal: AbortSignal;
  /** Stops listening. */
  release(): void;
}

export interface TrapMessages {
  /** Said at the first signal: what happens now (null: the work says it when it stops). */
  first(sig: string): string | null;
  /** Said at the second, before exiting. */
  again(sig: string): string;
}

export function trapSignals(say: (line: string) => void, messages: TrapMessages): SignalTrap {
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      say(messages.again(sig));
      process.exit(signalExit(sig));
    }
    const line = messages.first(sig);
    if (line !== null) say(line);
    controller.abort(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
