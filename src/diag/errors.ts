/**
 * A user-facing failure that is not about a position in a mesh source
 * (missing directory, unwritable folder, bad flag). Thrown deep, caught once at
 * the command edge (src/cli/main.ts), printed without a stack trace, exit 2.
 */
export class UserError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number = 2,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
