/**
 * An error caused by the user's input (config, arguments, files): the CLI prints its message
 * without a stack trace and exits with code 2.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
