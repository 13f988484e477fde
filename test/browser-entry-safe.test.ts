/**
 * `interbasis/browser` (src/browser/index.ts) and the web component must stay browser-safe: their
 * static and dynamic imports (TypeScript sources) never reach a Node built-in module. The
 * explorer app (src/app) is bundled by vite for the browser; it is checked the same way.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, resolve } from 'node:path';
import { REPO_ROOT } from './helpers/refdata.js';

const NODE = new Set(builtinModules);

function offenders(entry: string): { files: number; bad: string[] } {
  const seen = new Set<string>();
  const bad: string[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)) {
      const spec = (m[1] ?? m[2] ?? m[3])!;
      if (spec.startsWith('node:') || NODE.has(spec)) bad.push(`${file} imports ${spec}`);
      else if (spec.startsWith('.')) {
        const ts = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        if (existsSync(ts)) visit(ts);
        else if (!existsSync(resolve(dirname(file), spec))) bad.push(`${file} imports missing ${spec}`);
      }
    }
  };
  visit(entry);
  return { files: seen.size, bad };
}

describe('browser entry points', () => {
  for (const entry of ['src/browser/index.ts', 'src/browser/component.ts', 'src/app/main.ts', 'src/app/cluster-worker.ts']) {
    it(`${entry} reaches no Node built-in module`, () => {
      const r = offenders(resolve(REPO_ROOT, entry));
      expect(r.files).toBeGreaterThan(3);
      expect(r.bad).toEqual([]);
    });
  }
  it('the checker catches a Node import (src/cli/serve.ts)', () => {
    expect(offenders(resolve(REPO_ROOT, 'src/cli/serve.ts')).bad.length).toBeGreaterThan(0);
  });
});
