/**
 * The package version, read from package.json: the one source of the version that
 * `interbasis --version` prints and results.json records. Browser-safe (a JSON module import,
 * which Node, vitest and bundlers resolve without file-system code).
 */
import pkg from '../package.json' with { type: 'json' };

export const PACKAGE_VERSION: string = pkg.version;
