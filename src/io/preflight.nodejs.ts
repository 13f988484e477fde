/**
 * Checks on output locations made before any work starts, so that a run that could not save its
 * results is refused in seconds instead of after the computation: an existing result without
 * --force, an output folder that cannot be created or written, a path that is a file where a
 * folder is needed (or the reverse).
 */
import { closeSync, openSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors.js';

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

/**
 * The folder `dir` can hold new files: it is a writable directory, or it does not exist yet and
 * its nearest existing ancestor is a writable directory (it is created later, when results are
 * saved). Writability is tested by creating and removing an empty probe file, which also catches
 * read-only file systems and permissions that `access()` misses for root.
 */
export function checkWritableDir(dir: string, what = 'output folder'): void {
  const abs = resolve(dir);
  let existing = abs;
  let st = statOrNull(existing);
  while (!st) {
    const up = dirname(existing);
    if (up === existing) break;
    existing = up;
    st = statOrNull(existing);
  }
  if (!st) throw new UserError(`${what} ${abs} cannot be created: no part of its path exists`);
  if (!st.isDirectory()) {
    throw new UserError(
      existing === abs
        ? `${what} ${abs} is a file, not a folder`
        : `${what} ${abs} cannot be created: ${existing} is a file, not a folder`,
    );
  }
  const probe = join(existing, `.interbasis-write-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    closeSync(openSync(probe, 'wx'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new UserError(
      existing === abs
        ? `${what} ${abs} is not writable (${code})`
        : `${what} ${abs} cannot be created: ${existing} is not writable (${code})`,
    );
  }
  try {
    unlinkSync(probe);
  } catch {
    /* a probe left behind is harmless */
  }
}

/**
 * An output file can be written: without `force` it must not exist; it must not be a folder; its
 * folder must be writable. `what` names it in messages ("output", "report").
 */
export function checkOutputFile(path: string, force: boolean, what = 'output'): void {
  const abs = resolve(path);
  const st = statOrNull(abs);
  if (st?.isDirectory()) throw new UserError(`${what} ${abs} is a folder; give a file name`);
  if (st && !force) throw new UserError(`${what} ${abs} already exists; use --force to overwrite it`);
  checkWritableDir(dirname(abs), `${what} folder`);
}

/**
 * A results folder can receive the files `names` (e.g. results.safetensors and results.json):
 * without `force` none of them exists; the folder is writable or can be created.
 */
export function checkResultsDir(dir: string, names: readonly string[], force: boolean): void {
  const abs = resolve(dir);
  if (!force) {
    for (const n of names) {
      if (statOrNull(join(abs, n))) throw new UserError(`${join(abs, n)} already exists; use --force to overwrite it`);
    }
  }
  checkWritableDir(abs);
}
