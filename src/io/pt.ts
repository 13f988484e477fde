/**
 * PyTorch `.pt` reader (torch.save zip format, browser-safe): a ZIP with `<root>/data.pkl` and
 * raw little-endian storages in `<root>/data/<key>`. The pickle is run by a restricted
 * interpreter that only knows the globals a state_dict or a results dict needs; any other global
 * is refused with an error naming it. Nothing from the file is executed.
 */
import { UserError } from '../errors.js';
import { unpickle, type PyCallable, isPyCallable } from './pickle.js';
import { isZip, readZipDirectory, readZipEntry } from './zip.js';
import { DTYPE_ARRAY, DTYPE_SIZE, LITTLE_ENDIAN, numel, type DType, type Tensor, type TensorData } from './tensor.js';

/** torch storage classes we can read → dtype. */
export const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  DoubleStorage: 'F64', FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16',
  LongStorage: 'I64', IntStorage: 'I32', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

/** torch dtype globals → the string used in values (as refdata's JSON stores them). */
const TORCH_DTYPES = new Set([
  'float64', 'double', 'float32', 'float', 'float16', 'half', 'bfloat16', 'int64', 'long', 'int32', 'int',
  'int16', 'short', 'int8', 'uint8', 'bool', 'complex64', 'complex128',
]);

export const ALLOWED_GLOBALS_TEXT =
  'collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, ' +
  'torch.{Double,Float,Half,BFloat16,Long,Int,Byte,Bool}Storage and torch dtypes';

interface Storage { dtype: DType; key: string; numel: number; bytes: Uint8Array }

export interface PtFile {
  /** The unpickled object; tensors appear as `Tensor` objects inside it. */
  value: unknown;
  /** Every tensor in `value`, by its path (dict keys and list indices joined with "."). */
  tensors: Map<string, Tensor>;
}

function fail(msg: string): never {
  throw new UserError(msg);
}

function isIntArray(x: unknown): x is number[] {
  return Array.isArray(x) && x.every((v) => typeof v === 'number' && Number.isSafeInteger(v));
}

/** Parses a torch.save archive. */
export function parsePt(bytes: Uint8Array): PtFile {
  if (!isZip(bytes)) {
    if (bytes.length > 1 && bytes[0] === 0x80) {
      fail('legacy (pre-1.6, non-zip) torch.save format is not supported: re-save the file with a current torch, or convert it to safetensors');
    }
    fail('not a torch .pt file: expected a zip archive (torch.save format) but the file does not start with a zip header');
  }
  const entries = readZipDirectory(bytes);
  const pkls = [...entries.keys()].filter((k) => k === 'data.pkl' || k.endsWith('/data.pkl'));
  if (pkls.length === 0) fail('not a torch .pt file: the zip archive has no data.pkl entry');
  pkls.sort((a, b) => a.length - b.length);
  const pklName = pkls[0];
  const root = pklName.slice(0, pklName.length - 'data.pkl'.length); // "" or "archive/"
  const bo = entries.get(`${root}byteorder`);
  if (bo) {
    const order = new TextDecoder().decode(readZipEntry(bytes, bo)).trim();
    if (order !== 'little') fail(`${pklName}: storages are ${order}-endian; only little-endian files are supported`);
  }
  if (!LITTLE_ENDIAN) fail('big-endian hosts are not supported');

  const storages = new Map<string, Storage>();
  const tensorSet = new WeakSet<object>();

  const loadStorage = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
      fail(`${pklName}: unsupported persistent id ${JSON.stringify(safeJson(pid))}: only ('storage', type, key, location, numel) is allowed`);
    }
    const [, type, key, , count] = pid as unknown[];
    if (!isPyCallable(type) || !(type as StorageType).storageDtype) fail(`${pklName}: persistent id names ${describeType(type)} instead of a torch storage class`);
    if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) fail(`${pklName}: bad storage key ${JSON.stringify(safeJson(key))}`);
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) fail(`${pklName}: bad storage size ${String(count)}`);
    const dtype = (type as StorageType).storageDtype;
    const cached = storages.get(key as string);
    if (cached) {
      if (cached.dtype !== dtype) fail(`${pklName}: storage ${key} is used as both ${cached.dtype} and ${dtype}`);
      return cached;
    }
    const entryName = `${root}data/${key}`;
    const e = entries.get(entryName);
    if (!e) fail(`storage ${entryName} referenced by ${pklName} is missing from the archive`);
    const data = readZipEntry(bytes, e!);
    const need = (count as number) * DTYPE_SIZE[dtype];
    if (data.length < need) fail(`storage ${entryName} has ${data.length} bytes, but ${count} elements of ${dtype} need ${need}: truncated`);
    const s: Storage = { dtype, key: key as string, numel: count as number, bytes: data.subarray(0, need) };
    storages.set(key as string, s);
    return s;
  };

  const rebuild = (fn: string, args: unknown[]): Tensor => {
    const [storage, offset, size, stride] = args;
    const s = storage as Storage;
    if (!s || typeof s !== 'object' || !('dtype' in s) || !('bytes' in s)) fail(`${pklName}: ${fn} expects a storage as its first argument`);
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) fail(`${pklName}: ${fn}: bad storage offset ${String(offset)}`);
    if (!isIntArray(size) || size.some((d) => d < 0)) fail(`${pklName}: ${fn}: bad size ${JSON.stringify(safeJson(size))}`);
    if (!isIntArray(stride) || stride.length !== (size as number[]).length || stride.some((d) => d < 0)) {
      fail(`${pklName}: ${fn}: bad stride ${JSON.stringify(safeJson(stride))} for size ${JSON.stringify(size)}`);
    }
    const t = tensorFromStorage(s, offset as number, size as number[], stride as number[], pklName);
    tensorSet.add(t);
    return t;
  };

  const g = (name: string, call?: (args: unknown[]) => unknown, extra?: Partial<PyCallable> & Record<string, unknown>): PyCallable =>
    ({ __pyglobal__: name, call, ...extra });

  const orderedDict: PyCallable = g('collections.OrderedDict', (args) => {
    const d: Record<string, unknown> = {};
    if (args.length && Array.isArray(args[0])) {
      for (const kv of args[0] as unknown[]) {
        if (Array.isArray(kv) && kv.length === 2) Object.defineProperty(d, String(kv[0]), { value: kv[1], enumerable: true, writable: true, configurable: true });
      }
    }
    return d;
  });

  const resolveGlobal = (module: string, name: string): unknown => {
    const full = `${module}.${name}`;
    if (full === 'collections.OrderedDict') return orderedDict;
    if (full === 'torch._utils._rebuild_tensor_v2' || full === 'torch._utils._rebuild_tensor') {
      return g(full, (args) => rebuild(name, args));
    }
    if (full === 'torch._utils._rebuild_parameter' || full === 'torch._utils._rebuild_parameter_with_state') {
      return g(full, (args) => {
        if (!args.length || !tensorSet.has(args[0] as object)) fail(`${pklName}: ${full} expects a tensor`);
        return args[0];
      });
    }
    if (full === 'torch._tensor._rebuild_from_type_v2') {
      return g(full, (args) => {
        const [fn, type, fargs] = args;
        if (!isPyCallable(type) || !(type.__pyglobal__ === 'torch.Tensor' || type.__pyglobal__ === 'torch.nn.parameter.Parameter')) {
          fail(`refusing tensor subclass ${describeType(type)} in ${pklName}: only torch.Tensor and Parameter are allowed`);
        }
        if (!isPyCallable(fn) || !fn.call || !Array.isArray(fargs)) fail(`${pklName}: malformed ${full} call`);
        return (fn as PyCallable).call!(fargs as unknown[]);
      });
    }
    if (full === 'torch.Tensor' || full === 'torch.nn.parameter.Parameter') return g(full);
    if (module === 'torch' && name.endsWith('Storage')) {
      const dt = STORAGE_DTYPES[name];
      if (!dt) fail(`unsupported storage type torch.${name} in ${pklName} (supported: ${Object.keys(STORAGE_DTYPES).map((k) => 'torch.' + k).join(', ')})`);
      return g(full, undefined, { storageDtype: dt });
    }
    if (module === 'torch' && TORCH_DTYPES.has(name)) return name;
    fail(`refusing to load global ${full} from ${pklName}: only state_dict globals are allowed (${ALLOWED_GLOBALS_TEXT})`);
  };

  const pkl = readZipEntry(bytes, entries.get(pklName)!);
  const value = unpickle(pkl, { resolveGlobal, persistentLoad: loadStorage, source: pklName });

  const tensors = new Map<string, Tensor>();
  const seen = new Set<object>();
  const walk = (v: unknown, path: string) => {
    if (v === null || typeof v !== 'object') return;
    if (tensorSet.has(v)) { if (!tensors.has(path)) tensors.set(path, v as Tensor); return; }
    if (seen.has(v)) return;
    seen.add(v);
    const join = (k: string) => (path === '' ? k : `${path}.${k}`);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, join(String(i))));
    else if (Object.getPrototypeOf(v) === Object.prototype) for (const [k, x] of Object.entries(v)) walk(x, join(k));
  };
  walk(value, '');
  return { value, tensors };
}

interface StorageType extends PyCallable { storageDtype: DType }

function describeType(x: unknown): string {
  return isPyCallable(x) ? x.__pyglobal__ : JSON.stringify(safeJson(x));
}

function safeJson(x: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? v.toString() : isPyCallable(v) ? v.__pyglobal__ : v)) ?? 'null');
  } catch {
    return String(x);
  }
}

/**
 * A tensor from a storage, honouring offset, size and stride: a zero-copy view when the layout
 * is contiguous row-major and aligned, else a copy (strided gather).
 */
export function tensorFromStorage(s: Storage, offset: number, size: number[], stride: number[], label = 'tensor'): Tensor {
  const n = numel(size);
  const esz = DTYPE_SIZE[s.dtype];
  const ctor = DTYPE_ARRAY[s.dtype];
  if (n > 0) {
    let maxIdx = offset;
    for (let i = 0; i < size.length; i++) maxIdx += (size[i] - 1) * stride[i];
    if (maxIdx >= s.numel) {
      fail(`${label}: tensor with offset ${offset}, size [${size.join(', ')}] and stride [${stride.join(', ')}] reads element ${maxIdx} of storage ${s.key}, which has ${s.numel} elements`);
    }
  }
  let contiguous = true;
  let expect = 1;
  for (let i = size.length - 1; i >= 0; i--) {
    if (size[i] !== 1 && stride[i] !== expect) { contiguous = false; break; }
    expect *= size[i];
  }
  const byteStart = s.bytes.byteOffset + offset * esz;
  let data: TensorData;
  if (n === 0) {
    data = new ctor(0);
  } else if (contiguous) {
    if (byteStart % esz === 0) data = new ctor(s.bytes.buffer, byteStart, n);
    else {
      data = new ctor(n);
      new Uint8Array(data.buffer).set(s.bytes.subarray(offset * esz, (offset + n) * esz));
    }
  } else {
    const src = s.bytes.byteOffset % esz === 0
      ? new ctor(s.bytes.buffer, s.bytes.byteOffset, s.numel)
      : (() => { const c = new ctor(s.numel); new Uint8Array(c.buffer).set(s.bytes); return c; })();
    data = new ctor(n);
    const dims = size.length;
    const idx = new Array<number>(dims).fill(0);
    let src_i = offset;
    const out = data as unknown as { [i: number]: number | bigint };
    const inp = src as unknown as { [i: number]: number | bigint };
    for (let k = 0; k < n; k++) {
      out[k] = inp[src_i];
      for (let d = dims - 1; d >= 0; d--) {
        idx[d]++;
        src_i += stride[d];
        if (idx[d] < size[d]) break;
        src_i -= stride[d] * size[d];
        idx[d] = 0;
      }
    }
  }
  return { dtype: s.dtype, shape: [...size], data };
}

/**
 * The state_dict inside a parsed .pt value: the top-level dict if all its values are tensors,
 * else a `state_dict` / `model_state_dict` / `model` entry that is. Throws otherwise.
 */
export function stateDictFromPt(pt: PtFile, label = '.pt file'): Map<string, Tensor> {
  const v = pt.value;
  const all = new Set<unknown>(pt.tensors.values());
  const isTensor = (x: unknown) => all.has(x);
  const asSd = (d: unknown): Map<string, Tensor> | null => {
    if (!d || typeof d !== 'object' || Array.isArray(d)) return null;
    const e = Object.entries(d as Record<string, unknown>);
    if (!e.length || !e.every(([, x]) => isTensor(x))) return null;
    return new Map(e as Array<[string, Tensor]>);
  };
  const top = asSd(v);
  if (top) return top;
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const k of ['state_dict', 'model_state_dict', 'model']) {
      const sd = asSd((v as Record<string, unknown>)[k]);
      if (sd) return sd;
    }
  }
  fail(`${label}: does not hold a state_dict (a dict of tensors, or one under "state_dict" / "model_state_dict" / "model")`);
}
