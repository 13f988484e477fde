/**
 * Per-thread scratch buffers for the large temporaries of one shard (the attention edges' qk and kq
 * rows, the MLP edges' pre-activations and derivatives, …; the attention M′ atoms live in Wasm
 * memory, assembly/attnmprime.ts). A shard task allocates tens of MB of temporaries; fresh typed arrays are
 * page-faulted in, zeroed and garbage-collected every shard. These buffers grow only and are
 * reused by the next shard of the same thread.
 *
 * A scratch view is valid until the next `scratch` call with the same key: use one key per call
 * site, only inside one synchronous function, and never return a view (copy what survives).
 */
const buffers = new Map<string, Float64Array>();
const ibuffers = new Map<string, Int32Array>();

/** A Float64Array view of n values for `key` (zeroed unless `zero` is false). */
export function scratch(key: string, n: number, zero = true): Float64Array {
  const b = buffers.get(key);
  if (!b || b.length < n) {
    const fresh = new Float64Array(Math.max(n, Math.ceil((b?.length ?? 0) * 1.25)));
    buffers.set(key, fresh);
    return fresh.subarray(0, n);
  }
  const v = b.subarray(0, n);
  if (zero) v.fill(0);
  return v;
}

/** An Int32Array view of n values for `key` (zeroed unless `zero` is false). */
export function scratchI32(key: string, n: number, zero = true): Int32Array {
  const b = ibuffers.get(key);
  if (!b || b.length < n) {
    const fresh = new Int32Array(Math.max(n, Math.ceil((b?.length ?? 0) * 1.25)));
    ibuffers.set(key, fresh);
    return fresh.subarray(0, n);
  }
  const v = b.subarray(0, n);
  if (zero) v.fill(0);
  return v;
}
