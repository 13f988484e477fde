/**
 * Browser worker entry (module worker, driven through comlink by workers/browser.ts). Each worker
 * owns one Wasm instance, initialised by `init(module)` with the module compiled once by the page.
 * It runs the same task registry as the Node workers.
 */
import * as Comlink from 'comlink';
import { initKernels } from '../src/linalg/index.js';
import '../src/tasks.js';
import { collectTransferables, runEnveloped, type Envelope, type TaskMessage } from '../src/parallel/envelope.js';

const api = {
  async init(wasm: WebAssembly.Module | BufferSource): Promise<void> {
    await initKernels(wasm);
  },
  async run(msg: TaskMessage): Promise<Envelope> {
    const env = await runEnveloped(msg);
    return env.ok ? Comlink.transfer(env, collectTransferables(env.value)) : env;
  },
};
export type BrowserWorkerApi = typeof api;

Comlink.expose(api);
