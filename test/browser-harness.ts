/**
 * Shared by the browser/app tests: bundles the explorer with vite into a temp folder, serves it
 * (src/cli/serve.ts: COOP/COEP, extra mounts) and launches Debian's chromium through
 * playwright-core with a fresh user-data-dir. No network: every request must go to the server.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startServer, type Served, type ServeOptions } from '../src/cli/serve.js';
import { REPO_ROOT } from './helpers/refdata.js';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM && (process.env.CI === 'true' || process.env.CI === '1')) {
  throw new Error(`chromium not found at ${CHROMIUM} (npm test installs it in pretest; or set CHROMIUM_PATH)`);
}
export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-swiftshader'];

/** vite build of the explorer (vite.app.config.ts) into a fresh temp folder. */
export async function buildApp(): Promise<string> {
  const { build } = await import('vite');
  const outDir = mkdtempSync(join(tmpdir(), 'ib-app-'));
  await build({ configFile: resolve(REPO_ROOT, 'vite.app.config.ts'), logLevel: 'silent', build: { outDir, emptyOutDir: true } });
  return outDir;
}

export interface Harness {
  appDir: string;
  servers: Served[];
  context: BrowserContext;
  userDir: string;
  serve(o?: Omit<ServeOptions, 'appDir'>): Promise<Served>;
  page(): Promise<{ page: Page; errors: string[]; external: string[] }>;
  close(): Promise<void>;
}

export async function harness(viewport = { width: 1280, height: 900 }): Promise<Harness> {
  const appDir = await buildApp();
  const userDir = mkdtempSync(join(tmpdir(), 'ib-chrome-'));
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(userDir, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport });
  const servers: Served[] = [];
  return {
    appDir,
    servers,
    context,
    userDir,
    async serve(o = {}) {
      const s = await startServer({ ...o, appDir });
      servers.push(s);
      return s;
    },
    async page() {
      const page = await context.newPage();
      const errors: string[] = [];
      const external: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('request', (r) => {
        const u = r.url();
        if (!u.startsWith('http://127.0.0.1:') && !u.startsWith('blob:') && !u.startsWith('data:')) external.push(u);
      });
      return { page, errors, external };
    },
    async close() {
      await context.close().catch(() => undefined);
      for (const s of servers) await s.close();
      rmSync(appDir, { recursive: true, force: true });
      rmSync(userDir, { recursive: true, force: true });
    },
  };
}

/** Waits for the app's test hook: body[data-state] done or error. */
export async function waitDone(page: Page, timeout = 90_000): Promise<{ state: string; error: string | null }> {
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), null, { timeout });
  return page.evaluate(() => ({ state: document.body.dataset.state!, error: document.body.dataset.error ?? null }));
}

export async function resultsBytes(page: Page): Promise<Buffer> {
  const b64 = await page.evaluate(() => {
    const b = (window as unknown as { __interbasis: { resultsBytes(): Uint8Array | null } }).__interbasis.resultsBytes();
    if (!b) return null;
    let s = '';
    for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
    return btoa(s);
  });
  if (b64 === null) throw new Error('no results bytes');
  return Buffer.from(b64, 'base64');
}
