// Makes sure Debian's chromium is installed for the browser tests (never a browser download).
// Runs before `npm test`. Installs with apt-get when missing and we are root; otherwise explains.
// Order: use the package index as it is when it already knows chromium; run `apt-get update`
// only when `apt-cache` has no installation candidate. Never fails the test run by itself: the
// browser tests then fail with a message that points here.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const sh = (cmd, opts = {}) => execSync(cmd, { stdio: 'pipe', shell: '/bin/bash', encoding: 'utf8', ...opts });

function version() {
  try {
    return sh(`${CHROMIUM} --version`).trim();
  } catch {
    return 'unknown version';
  }
}

if (existsSync(CHROMIUM)) {
  if (process.env.SETUP_CHROMIUM_VERBOSE) console.log(`setup-chromium: ${CHROMIUM} (${version()})`);
  process.exit(0);
}
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
let hasApt = false;
try {
  sh('command -v apt-get');
  hasApt = true;
} catch {}
if (!hasApt) {
  console.warn(`setup-chromium: ${CHROMIUM} is missing and apt-get is not available; install a chromium and set CHROMIUM_PATH for the browser tests.`);
  process.exit(0);
}
if (!isRoot) {
  console.warn(`setup-chromium: ${CHROMIUM} is missing and we are not root; run (as root) apt-get install chromium for the browser tests.`);
  process.exit(0);
}
function candidate() {
  try {
    const m = /Candidate:\s*(\S+)/.exec(sh('apt-cache policy chromium'));
    return m && m[1] !== '(none)' ? m[1] : null;
  } catch {
    return null;
  }
}
try {
  if (!candidate()) {
    console.log('setup-chromium: apt-cache knows no chromium candidate; running apt-get update…');
    sh('apt-get update -qq', { stdio: 'inherit' });
  }
  const c = candidate();
  if (!c) throw new Error('apt-cache policy chromium: no installation candidate even after apt-get update');
  console.log(`setup-chromium: installing Debian chromium ${c} (apt-get install chromium)…`);
  sh('DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium', { stdio: 'inherit' });
} catch (e) {
  console.error(`setup-chromium: could not install chromium: ${e.message}`);
  process.exit(0);
}
if (existsSync(CHROMIUM)) console.log(`setup-chromium: installed ${CHROMIUM} (${version()})`);
else console.error(`setup-chromium: apt-get finished but ${CHROMIUM} does not exist; set CHROMIUM_PATH`);
