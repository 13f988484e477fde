# Test-side torch.save stand-in (no torch needed): writes .pt archives whose pickle names the
# same globals torch does (torch._utils._rebuild_tensor_v2, torch.FloatStorage, ...), using fake
# modules registered in sys.modules, persistent ids for storages, and a STORED zip.
# Usage: python3 test/io-make-pt.py OUT_DIR   (writes several fixture files; see bottom)
import array, collections, pickle, struct, sys, types, zipfile, os

torch = types.ModuleType('torch'); sys.modules['torch'] = torch
tutils = types.ModuleType('torch._utils'); sys.modules['torch._utils'] = tutils
torch._utils = tutils

def _mk_storage_cls(name):
    c = type(name, (), {}); c.__module__ = 'torch'; c.__qualname__ = name; setattr(torch, name, c); return c
for n in ['DoubleStorage', 'FloatStorage', 'LongStorage', 'BoolStorage', 'IntStorage', 'HalfStorage', 'ByteStorage', 'ShortStorage']:
    _mk_storage_cls(n)

def _rebuild_tensor_v2(*a): raise RuntimeError('never called')
_rebuild_tensor_v2.__module__ = 'torch._utils'; _rebuild_tensor_v2.__qualname__ = '_rebuild_tensor_v2'
tutils._rebuild_tensor_v2 = _rebuild_tensor_v2
def _rebuild_parameter(*a): raise RuntimeError('never called')
_rebuild_parameter.__module__ = 'torch._utils'; _rebuild_parameter.__qualname__ = '_rebuild_parameter'
tutils._rebuild_parameter = _rebuild_parameter

class dtype:
    def __init__(self, name): self.name = name
    def __reduce__(self): return self.name  # pickled as global torch.<name>
dtype.__module__ = 'torch'
torch.float64 = dtype('float64'); torch.float32 = dtype('float32')

class Storage:
    def __init__(self, cls, key, fmt, values):
        self.cls, self.key = cls, key
        if fmt == '?': self.raw = bytes(1 if v else 0 for v in values)
        elif fmt == 'e': self.raw = struct.pack('<%de' % len(values), *values)
        else: self.raw = array.array(fmt, values).tobytes()
        self.numel = len(values)

class Tensor:
    def __init__(self, storage, offset, size, stride): self.s, self.o, self.size, self.stride = storage, offset, tuple(size), tuple(stride)
    def __reduce__(self):
        return (_rebuild_tensor_v2, (self.s, self.o, self.size, self.stride, False, collections.OrderedDict()))

class Parameter:
    def __init__(self, t): self.t = t
    def __reduce__(self): return (_rebuild_parameter, (self.t, True, collections.OrderedDict()))

class P(pickle.Pickler):
    def __init__(self, f, storages):
        super().__init__(f, protocol=2); self.storages = storages
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            self.storages[obj.key] = obj
            return ('storage', obj.cls, obj.key, 'cpu', obj.numel)
        return None

def save(path, obj, compress=False, drop_storage=None, pkl_override=None):
    import io
    buf = io.BytesIO(); storages = {}
    P(buf, storages).dump(obj)
    pkl = pkl_override if pkl_override is not None else buf.getvalue()
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        z.writestr('archive/data.pkl', pkl)
        z.writestr('archive/byteorder', 'little')
        for k, s in storages.items():
            if k != drop_storage: z.writestr(f'archive/data/{k}', s.raw)
        z.writestr('archive/version', '3\n')

out = sys.argv[1]

# state_dict: f32 contiguous, f64 strided (transpose), i64 with storage offset, bool, shared storage, scalar, parameter
f32 = Storage(torch.FloatStorage, '0', 'f', [0.5, -1.25, 2.0, 3.5, -4.0, 5.75])
f64 = Storage(torch.DoubleStorage, '1', 'd', [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
i64 = Storage(torch.LongStorage, '2', 'q', [10, 20, -30, 2**40, -(2**50), 7])
bl = Storage(torch.BoolStorage, '3', '?', [True, False, True, True, False])
i32 = Storage(torch.IntStorage, '4', 'i', [7, -8, 9])
sd = collections.OrderedDict()
sd['w32'] = Tensor(f32, 0, [2, 3], [3, 1])
sd['w64T'] = Tensor(f64, 0, [3, 2], [1, 3])           # transpose of [[1,2,3],[4,5,6]]
sd['w64row1'] = Tensor(f64, 3, [3], [1])               # shares storage 1, offset 3
sd['i64off'] = Tensor(i64, 2, [2, 2], [2, 1])          # offset 2
sd['mask'] = Tensor(bl, 0, [5], [1])
sd['scalar'] = Tensor(f32, 5, [], [])
sd['param'] = Parameter(Tensor(i32, 0, [3], [1]))
sd['f32col'] = Tensor(f32, 1, [2], [3])                 # strided column with offset
sd['half'] = Tensor(Storage(torch.HalfStorage, '5', 'e', [0.5, -2.0, 65504.0]), 0, [3], [1])
sd._metadata = collections.OrderedDict([('', {'version': 1})])
save(os.path.join(out, 'state_dict.pt'), sd)

# results-like dict
C = Storage(torch.DoubleStorage, '0', 'd', [float(i) for i in range(6)])
res = {
    'exp_name': 'demo',
    'mean_vectors': {'a': Tensor(C, 0, [3], [1])},
    'interaction_rotations': [
        {'node_layer': 'a', 'orig_dim': 3, 'C': Tensor(C, 0, [3, 2], [2, 1]), 'V': None},
        {'node_layer': 'b', 'orig_dim': 2, 'C': None, 'V': None},
    ],
    'ml_model_config': {'dtype': torch.float64, 'n': 2**70, 'neg': -5, 'eps': 1e-5},
    'flag': True, 'tup': (1, 'x', None), 'calc_grams_time': 0.25,
}
save(os.path.join(out, 'results.pt'), res)

save(os.path.join(out, 'compressed.pt'), sd, compress=True)
save(os.path.join(out, 'missing_storage.pt'), sd, drop_storage='1')
short = Storage(torch.ShortStorage, '0', 'h', [1, 2])
save(os.path.join(out, 'short.pt'), {'x': Tensor(short, 0, [2], [1])})
save(os.path.join(out, 'oob.pt'), {'x': Tensor(f64, 4, [3], [1])})  # reads past the storage
# hand-assembled malicious pickles
save(os.path.join(out, 'os_system.pt'), None, pkl_override=b'\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.')
save(os.path.join(out, 'builtins_eval.pt'), None,
     pkl_override=b'\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x061+1\x85R.')
with open(os.path.join(out, 'state_dict.pt'), 'rb') as f: data = f.read()
with open(os.path.join(out, 'truncated.pt'), 'wb') as f: f.write(data[: len(data) // 2])
with open(os.path.join(out, 'legacy.pt'), 'wb') as f: f.write(pickle.dumps({'a': 1}, protocol=2))
