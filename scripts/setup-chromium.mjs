// Makes sure Debian's chromium is installed for the browser tests (never a browser download).
// Runs before `npm test`. Installs with apt-get when missing and we are root; otherwise explains.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
if (existsSync(CHROMIUM)) process.exit(0);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot) {
  console.warn(`setup-chromium: ${CHROMIUM} is missing and we are not root; install Debian's chromium (apt-get install chromium) for the browser tests.`);
  process.exit(0);
}
console.log('setup-chromium: installing Debian chromium (apt-get install chromium)…');
try {
  execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null', { stdio: 'inherit', shell: '/bin/bash' });
} catch (e) {
  console.error(`setup-chromium: apt-get install chromium failed: ${e.message}`);
  process.exit(0);
}
