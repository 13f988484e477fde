/** Option value parsers shared by the CLI commands (commander's `.option(..., parser)`). */
import { UserError } from '../errors.js';

/** Parser of an integer option ≥ 1; `name` (e.g. "--top-k") names it in the error. */
export const positiveInt = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${name} must be a positive integer, got ${v}`);
  return n;
};
