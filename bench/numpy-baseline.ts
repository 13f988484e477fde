/**
 * numpy (with its BLAS/LAPACK, OpenBLAS on Debian) as an external baseline for the kernel rows,
 * timed in a Python subprocess in the same bench run. Single-threaded: OPENBLAS_NUM_THREADS,
 * OMP_NUM_THREADS and MKL_NUM_THREADS are 1, and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed
 * from the subprocess's environment so OpenBLAS picks its kernels for the machine itself. The
 * BLAS core type is reported (OpenBLAS's own openblas_get_corename, else threadpoolctl).
 *
 * Optional: without Python 3 and numpy the baseline is reported as unavailable and the bench goes
 * on. Python is `INTERBASIS_NUMPY_PYTHON` if set, else /usr/bin/python3 if present, else `python3`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export type NumpyOp = { op: 'eigh'; n: number } | { op: 'gram'; rows: number; d: number } | { op: 'svd'; m: number; n: number };

export interface NumpyTiming {
  /** fastest of the timed calls, seconds (wall clock) */
  seconds: number;
  /** least process CPU time of the timed calls, seconds (less sensitive to other load) */
  cpu: number;
  /** median of the timed calls, seconds */
  median: number;
  samples: number;
}

export interface NumpyBaseline {
  available: true;
  python: string;
  numpy: string;
  /** e.g. "OpenBLAS 0.3.21, core Zen, 1 thread" */
  blas: string;
  /** timings in the order of the requested ops */
  timings: NumpyTiming[];
}

export type NumpyResult = NumpyBaseline | { available: false; reason: string };

const SCRIPT = String.raw`
import sys, json, time
try:
    import numpy as np
except Exception as e:
    print(json.dumps({"error": "numpy not importable: %s" % e})); sys.exit(0)

def blas_info():
    parts = []
    try:
        import ctypes
        path = None
        with open("/proc/self/maps") as f:
            for line in f:
                if "openblas" in line.lower() and ".so" in line:
                    path = line.split()[-1]; break
        if path:
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            parts.append(lib.openblas_get_config().decode().strip())
            parts.append("core " + lib.openblas_get_corename().decode().strip())
            try:
                parts.append("%d thread(s)" % lib.openblas_get_num_threads())
            except Exception:
                pass
    except Exception:
        pass
    if not parts:
        try:
            import threadpoolctl
            for d in threadpoolctl.threadpool_info():
                if d.get("user_api") == "blas":
                    parts.append("%s %s, core %s, %s thread(s)" % (d.get("internal_api"), d.get("version"), d.get("architecture"), d.get("num_threads")))
        except Exception:
            pass
    return ", ".join(parts) if parts else "BLAS core type unknown (no OpenBLAS symbols, threadpoolctl absent)"

spec = json.loads(sys.stdin.read())
rng = np.random.default_rng(20260513)
out = []
for s in spec["ops"]:
    op = s["op"]
    if op == "eigh":
        B = rng.uniform(-1, 1, (s["n"], s["n"])); A = B + B.T
        f = lambda: np.linalg.eigh(A)
    elif op == "gram":
        X = rng.uniform(-1, 1, (s["rows"], s["d"]))
        f = lambda: X.T @ X
    else:
        A = rng.uniform(-1, 1, (s["m"], s["n"]))
        f = lambda: np.linalg.svd(A, full_matrices=False)
    f()
    ts = []
    cs = []
    t_end = time.perf_counter() + s["maxTime"]
    while len(ts) < s["minSamples"] or (time.perf_counter() < t_end and len(ts) < 50):
        c0 = time.process_time(); t0 = time.perf_counter(); f()
        ts.append(time.perf_counter() - t0); cs.append(time.process_time() - c0)
    ts.sort()
    out.append({"seconds": ts[0], "cpu": min(cs), "median": ts[(len(ts) - 1) // 2], "samples": len(ts)})
print(json.dumps({"numpy": np.__version__, "python": sys.version.split()[0], "blas": blas_info(), "timings": out}))
`;

function pythonPath(): string {
  const env = process.env.INTERBASIS_NUMPY_PYTHON;
  if (env) return env;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** Time the ops with numpy in one single-threaded Python subprocess; never throws. */
export function numpyBaseline(ops: NumpyOp[], opts: { minSamples?: number; maxTime?: number; timeoutSeconds?: number } = {}): NumpyResult {
  const python = pythonPath();
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const input = JSON.stringify({ ops: ops.map((o) => ({ ...o, minSamples: opts.minSamples ?? 3, maxTime: opts.maxTime ?? 1.5 })) });
  const r = spawnSync(python, ['-c', SCRIPT], { input, env, encoding: 'utf8', timeout: (opts.timeoutSeconds ?? 600) * 1000, maxBuffer: 1 << 20 });
  if (r.error) return { available: false, reason: `${python} could not be run (${r.error.message})` };
  if (r.status !== 0) return { available: false, reason: `${python} exited with status ${r.status}: ${(r.stderr || '').trim().split('\n').pop() ?? ''}` };
  let parsed: { error?: string; numpy?: string; python?: string; blas?: string; timings?: NumpyTiming[] };
  try {
    parsed = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    return { available: false, reason: `unexpected output from ${python}: ${r.stdout.slice(0, 200)}` };
  }
  if (parsed.error) return { available: false, reason: parsed.error };
  if (!parsed.timings || parsed.timings.length !== ops.length) return { available: false, reason: `${python} returned ${parsed.timings?.length ?? 0} timings for ${ops.length} ops` };
  return { available: true, python: `${python} (Python ${parsed.python})`, numpy: parsed.numpy!, blas: parsed.blas!, timings: parsed.timings };
}
