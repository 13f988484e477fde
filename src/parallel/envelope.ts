/**
 * The message format between a pool and its workers (pure; shared by the Node and browser workers).
 * A worker answers every task with an envelope instead of throwing, so the error class name
 * (e.g. `UserError`) and message survive the thread boundary the same way in Node and browsers.
 */
import { UserError } from '../errors.js';
import { runTask } from './registry.js';

export interface TaskMessage {
  task: string;
  payload: unknown;
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export type Envelope = { ok: true; value: unknown } | { ok: false; error: SerializedError };

/** Run a registered task and wrap its outcome (never throws). */
export async function runEnveloped(msg: TaskMessage): Promise<Envelope> {
  try {
    if (msg === null || typeof msg !== 'object' || typeof msg.task !== 'string') {
      throw new TypeError('malformed task message: expected { task: string, payload }');
    }
    return { ok: true, value: await runTask(msg.task, msg.payload) };
  } catch (e) {
    return { ok: false, error: serializeError(e) };
  }
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: 'Error', message: String(e) };
}

/**
 * The error a caller sees for a failed task: `UserError` stays a `UserError` with its message
 * unchanged (the CLI prints it as is); anything else becomes an Error whose message names the task:
 * `task "gram" failed: <original message>` (original name and stack kept in `cause`-like fields).
 */
export function taskError(task: string, err: SerializedError | unknown): Error {
  const se: SerializedError =
    err !== null && typeof err === 'object' && 'message' in err && 'name' in err && !(err instanceof Error)
      ? (err as SerializedError)
      : serializeError(err);
  if (se.name === 'UserError') {
    const u = new UserError(se.message);
    if (se.stack) u.stack = se.stack;
    return u;
  }
  const prefix = `task "${task}" failed: `;
  const e = new Error(se.message.startsWith(prefix) ? se.message : prefix + se.message);
  (e as Error & { task?: string; originalName?: string }).task = task;
  (e as Error & { originalName?: string }).originalName = se.name;
  if (se.stack) e.stack = `${e.name}: ${e.message}\n    [in task ${task}] ${se.stack}`;
  return e;
}

/** Unwrap an envelope: the value, or throw `taskError`. */
export function unwrapEnvelope<R>(task: string, env: Envelope): R {
  if (env === null || typeof env !== 'object' || typeof env.ok !== 'boolean') {
    throw new Error(`task "${task}" failed: the worker returned a malformed reply`);
  }
  if (env.ok) return env.value as R;
  throw taskError(task, env.error);
}

const movable = new WeakSet<object>();

/**
 * Mark a task result for transfer instead of copy: a worker then moves the buffers of the typed
 * arrays in it (the value itself, or arrays/records of them, two levels deep) back to the caller.
 * Only for fresh arrays the task does not keep: a moved buffer is detached (length 0) in the
 * worker, so never mark arrays held in a context cache. Unmarked results are copied (safe).
 * In the current thread (InlinePool) it is a no-op.
 */
export function moveResult<T>(value: T): T {
  if (value !== null && typeof value === 'object') movable.add(value as object);
  return value;
}

/**
 * ArrayBuffers to transfer for a task result: empty unless the result was marked with
 * `moveResult`. Only non-shared buffers wholly covered by a view are listed (never a view into
 * Wasm memory or a larger buffer), deduplicated.
 */
export function collectTransferables(value: unknown): ArrayBuffer[] {
  if (value === null || typeof value !== 'object' || !movable.has(value)) return [];
  const out = new Set<ArrayBuffer>();
  const visit = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object') return;
    if (ArrayBuffer.isView(v)) {
      const b = v.buffer;
      if (b instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === b.byteLength) out.add(b);
      return;
    }
    if (v instanceof ArrayBuffer) {
      out.add(v);
      return;
    }
    if (depth >= 2) return;
    if (Array.isArray(v)) for (const x of v) visit(x, depth + 1);
    else if (Object.getPrototypeOf(v) === Object.prototype) {
      for (const x of Object.values(v)) visit(x, depth + 1);
    }
  };
  visit(value, 0);
  return [...out];
}
