// Human output on streams that may go away. `iovh run | head -1` closes the
// pipe after one line: the next write fails with EPIPE, which Node reports
// as an 'error' event on process.stdout, and an 'error' event nobody listens
// to kills the process (with a stack trace) in the middle of a scenario,
// before its cleanups. A dead terminal (EIO) or a full disk behind a
// redirection (ENOSPC) do the same. Losing the human output must not lose
// the run: once a stream fails, writes to it stop, the run goes on, runs its
// cleanups and writes its report files.

export class HumanOutput {
  private failure: NodeJS.ErrnoException | null = null;
  private readonly onError = (e: NodeJS.ErrnoException): void => {
    this.failure ??= e;
  };

  constructor(readonly stream: NodeJS.WriteStream) {
    stream.on('error', this.onError);
  }

  /** Writes unless the stream failed before; false once it has. */
  write(text: string): boolean {
    if (this.failure) return false;
    try {
      this.stream.write(text);
    } catch (e) {
      // A synchronous throw (a destroyed stream in some Node versions) means the same as the 'error' event.
      this.failure ??= e as NodeJS.ErrnoException;
    }
    return this.failure === null;
  }

  /**
   * Resolves once everything written so far has reached the kernel or
   * failed: a pipe's EPIPE arrives after write() returned, so a report sent
   * to stdout is known to be delivered only after this.
   */
  settle(): Promise<void> {
    if (this.failure) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        this.stream.write('', () => resolve());
      } catch (e) {
        this.failure ??= e as NodeJS.ErrnoException;
        resolve();
      }
    });
  }

  /** Why the stream stopped taking output (an errno name or message), or null while it works. */
  get lost(): string | null {
    return this.failure ? (this.failure.code ?? this.failure.message) : null;
  }

  /**
   * Stop listening. A stream that failed keeps a no-op listener: it is
   * destroyed, and a late 'error' from a write still queued must not kill
   * the process after the run.
   */
  release(): void {
    if (this.failure) return;
    this.stream.off('error', this.onError);
  }
}

// Every command's stdout, watched for the whole invocation. A redirection to
// a full disk (`iovh topology > /dev/full`: ENOSPC), a closed pipe (EPIPE) or
// a dead terminal (EIO) make Node emit an 'error' event on process.stdout;
// nobody listening killed the process with a 25-line trace (exit 1), and a
// command whose output went nowhere could otherwise exit 0. One listener,
// installed once (main() runs many times in one test process), records the
// first failure; main() then says so in one line and exits non-zero, except
// for EPIPE, the reader's choice to stop (`| head`).
let stdoutFailure: NodeJS.ErrnoException | null = null;
let stdoutTold = false;
let watching = false;

/** Starts watching stdout for this invocation (forgetting an earlier invocation's failure). */
export function watchStdout(): void {
  if (!watching) {
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      stdoutFailure ??= e;
    });
    watching = true;
  }
  stdoutFailure = null;
  stdoutTold = false;
}

/** A command that already said its output was lost (run's human output) calls this: main() adds no second line. */
export function stdoutFailureTold(): void {
  stdoutTold = true;
}

/**
 * Why stdout lost output in this invocation (an errno name), or null; waits a
 * turn of the event loop first, as a file stream reports its error on the next
 * tick. `told`: the command said so itself.
 */
export async function stdoutLost(): Promise<{ code: string; told: boolean } | null> {
  await new Promise((resolve) => setImmediate(resolve));
  if (!stdoutFailure) return null;
  return { code: stdoutFailure.code ?? stdoutFailure.message, told: stdoutTold };
}
