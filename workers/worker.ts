/**
 * Piscina worker entry (Node). Each worker thread owns one Wasm instance: the kernels are
 * initialised once at module load (top-level await, before piscina reports the worker ready).
 * Messages are `{ task, payload }`; the reply is an Envelope (see src/parallel/envelope.ts) whose
 * result arrays are transferred back, not copied.
 */
import { Piscina } from 'piscina';
import { initKernels } from '../src/linalg/index.js';
import '../src/tasks.js';
import { collectTransferables, runEnveloped, type TaskMessage } from '../src/parallel/envelope.js';

await initKernels();

export default async function handle(msg: TaskMessage): Promise<unknown> {
  const env = await runEnveloped(msg);
  const transfer = env.ok ? collectTransferables(env.value) : [];
  if (transfer.length === 0) return env;
  return Piscina.move({
    get [Piscina.transferableSymbol]() {
      return transfer;
    },
    get [Piscina.valueSymbol]() {
      return env;
    },
  } as never);
}
