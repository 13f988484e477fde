#!/usr/bin/env node
// The command line as one Node bundle (vite.cli.config.ts; made by `npm run build`).
import '../dist/src/bundle/cli.js';
