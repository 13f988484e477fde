/**
 * Locates ../shared/refdata (beside the checkout). Tests that need it call `refdataDir()`:
 * - present → its absolute path;
 * - missing under CI (CI=true) → throws a clear error, so the test fails instead of skipping;
 * - missing locally → returns null, and the caller skips with `describe.skipIf(!REFDATA)`.
 * Override the location with INTERBASIS_REFDATA.
 */
import { existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, '..', '..');

export function refdataDir(): string | null {
  const dir = process.env.INTERBASIS_REFDATA ?? resolve(REPO_ROOT, '..', 'shared', 'refdata');
  if (existsSync(resolve(dir, 'README.md'))) return dir;
  const msg =
    `reference data not found at ${dir}: these tests need ../shared/refdata beside the checkout ` +
    `(or INTERBASIS_REFDATA pointing at it)`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(msg);
  console.warn(`[skip] ${msg}`);
  return null;
}

export const REFDATA = refdataDir();

/** Path inside refdata; only call when REFDATA is non-null. */
export function ref(...parts: string[]): string {
  if (!REFDATA) throw new Error('refdata missing');
  return resolve(REFDATA, ...parts);
}

/** Where tests write their output (screenshots, reports). */
export const TEST_OUTPUT = resolve(REPO_ROOT, 'test-output');
