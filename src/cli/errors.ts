// Errors the CLI reports as one line. A UsageError is the user's input (exit
// 2); anything else that reaches main() is reported with its message and exit
// 1, never with a stack trace unless IOVH_DEBUG=1.

export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An operational failure with a chosen exit status (e.g. 99: harness broken). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
