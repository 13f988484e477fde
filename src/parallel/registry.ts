/**
 * Task registry (pure). The same registry serves the Node workers (workers/worker.ts), the browser
 * workers (workers/browser-worker.ts) and the in-thread `InlinePool`: a module registers its tasks at
 * import time, and src/tasks.ts imports every such module.
 */

export type TaskFn<P = any, R = any> = (payload: P) => R | Promise<R>;

const tasks = new Map<string, TaskFn>();

/**
 * Register `fn` under `name`. Registering the same function twice is a no-op; registering a
 * different function under a taken name throws (two modules claiming one name is a bug).
 */
export function registerTask<P, R>(name: string, fn: (payload: P) => R | Promise<R>): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError('registerTask: the task name must be a non-empty string');
  }
  if (typeof fn !== 'function') {
    throw new TypeError(`registerTask: task "${name}" must be a function`);
  }
  const prev = tasks.get(name);
  if (prev !== undefined && prev !== fn) {
    throw new Error(`registerTask: a different task is already registered as "${name}"`);
  }
  tasks.set(name, fn as TaskFn);
}

export function hasTask(name: string): boolean {
  return tasks.has(name);
}

export function taskNames(): string[] {
  return [...tasks.keys()].sort();
}

/** Run the task registered as `name` in the current thread. Unknown names reject clearly. */
export async function runTask(name: string, payload: unknown): Promise<unknown> {
  const fn = tasks.get(name);
  if (fn === undefined) {
    throw new Error(
      `unknown task "${name}": no task of that name is registered ` +
        `(registered: ${taskNames().join(', ') || 'none'}); ` +
        'the module that registers it must be imported from src/tasks.ts',
    );
  }
  return await fn(payload);
}
