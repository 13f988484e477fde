/**
 * The library's main entry point must stay browser-safe: walking its static and dynamic imports
 * (from the TypeScript sources) must never reach a Node built-in module.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { resolve, dirname, join, relative } from 'node:path';
import { builtinModules } from 'node:module';
import { REPO_ROOT } from './helpers/refdata.js';

const NODE_BUILTINS = new Set(builtinModules);

function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  const re = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of src.matchAll(re)) out.push((m[1] ?? m[2])!);
  return out;
}

function walk(entry: string): { files: Set<string>; offenders: string[] } {
  const files = new Set<string>();
  const offenders: string[] = [];
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of importsOf(file)) {
      if (spec.startsWith('node:') || NODE_BUILTINS.has(spec)) offenders.push(`${file} imports ${spec}`);
      else if (spec.startsWith('.')) {
        const ts = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        if (existsSync(ts)) visit(ts);
        else offenders.push(`${file} imports missing ${spec}`);
      }
    }
  };
  visit(entry);
  return { files, offenders };
}

describe('browser-safe core', () => {
  it('src/index.ts reaches no Node built-in module', () => {
    const { files, offenders } = walk(resolve(REPO_ROOT, 'src/index.ts'));
    expect(files.size).toBeGreaterThan(20);
    expect(offenders).toEqual([]);
  });
  it('the checker does catch a Node import (src/node.ts)', () => {
    const { offenders } = walk(resolve(REPO_ROOT, 'src/node.ts'));
    expect(offenders.length).toBeGreaterThan(0);
  });
  it('a file under src/ that imports a Node module is named *.nodejs.ts (or is the CLI or the Node entry)', () => {
    const files: string[] = [];
    const list = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) list(p);
        else if (e.name.endsWith('.ts')) files.push(p);
      }
    };
    list(resolve(REPO_ROOT, 'src'));
    const nodeImporters = files.filter((f) => importsOf(f).some((s) => s.startsWith('node:') || NODE_BUILTINS.has(s)));
    expect(nodeImporters.length).toBeGreaterThan(5);
    const misnamed = nodeImporters
      .map((f) => relative(REPO_ROOT, f))
      .filter((f) => !f.endsWith('.nodejs.ts') && !f.startsWith(join('src', 'cli')) && f !== join('src', 'node.ts'));
    expect(misnamed).toEqual([]);
  });
});
