// Every module that registers worker tasks is imported here (one line per module, per owner).
// workers/worker.ts, workers/browser-worker.ts and InlinePool users import this file.
import './parallel/builtin-tasks.js';
import './analysis/tasks.js';
import './rib/tasks.js';
import './rib/eval-task.js';
