/**
 * A restricted pickle interpreter (protocols 0-5, browser-safe). It never executes anything:
 * GLOBAL / STACK_GLOBAL go through `resolveGlobal`, which returns a JS stand-in or throws, and
 * REDUCE / BUILD only call those stand-ins. Python values map to JS as:
 *   None → null, bool → boolean, int → number (bigint beyond 2^53), float → number,
 *   str → string, bytes → Uint8Array, list/tuple → array, dict → plain object (keys stringified).
 */
import { UserError } from '../errors.js';

/** A callable stand-in for an allowed Python global. */
export interface PyCallable {
  readonly __pyglobal__: string;
  call?(args: unknown[]): unknown;
  /** Applies BUILD state to an object this callable created (default: ignore the state). */
  build?(obj: unknown, state: unknown): unknown;
}

export interface UnpickleHooks {
  /** Returns a stand-in for `module.name` or throws a clear error. */
  resolveGlobal(module: string, name: string): PyCallable | unknown;
  /** Resolves a persistent id (BINPERSID / PERSID). */
  persistentLoad?(pid: unknown): unknown;
  /** Label for error messages, e.g. "archive/data.pkl". */
  source?: string;
}

const MARK = Symbol('mark');

export function isPyCallable(x: unknown): x is PyCallable {
  return typeof x === 'object' && x !== null && '__pyglobal__' in x;
}

/** Sets an own property even for keys such as "__proto__". */
export function setKey(obj: Record<string, unknown>, key: unknown, value: unknown): void {
  const k = typeof key === 'string' ? key : typeof key === 'number' || typeof key === 'bigint' || typeof key === 'boolean' || key === null ? String(key) : JSON.stringify(key, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  Object.defineProperty(obj, k, { value, enumerable: true, writable: true, configurable: true });
}

function isDict(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype;
}

/** Runs a pickle and returns the unpickled value. */
export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks): unknown {
  const src = hooks.source ?? 'pickle';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  const stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let stackRef = stack;
  let p = 0;
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8', { fatal: true });

  const bad = (msg: string): never => { throw new UserError(`${src}: ${msg}`); };
  const need = (k: number) => { if (p + k > n) bad(`pickle is truncated at byte ${p} (needs ${k} more bytes)`); };
  const pop = (): unknown => { if (stackRef.length === 0) bad(`pickle stack underflow at byte ${p}`); const v = stackRef.pop(); if (v === MARK) bad(`unexpected MARK at byte ${p}`); return v; };
  const top = (): unknown => { if (stackRef.length === 0) bad(`pickle stack underflow at byte ${p}`); return stackRef[stackRef.length - 1]; };
  const popMark = (): unknown[] => {
    const items = stackRef;
    if (metastack.length === 0) bad(`pickle uses a MARK that was never set (byte ${p})`);
    stackRef = metastack.pop()!;
    return items;
  };
  const readLine = (): string => {
    const start = p;
    while (p < n && bytes[p] !== 0x0a) p++;
    if (p >= n) bad('pickle is truncated inside a text line');
    const s = latin1.decode(bytes.subarray(start, p));
    p++;
    return s.endsWith('\r') ? s.slice(0, -1) : s;
  };
  const readStr = (len: number): string => {
    need(len);
    let s: string;
    try { s = utf8.decode(bytes.subarray(p, p + len)); } catch { bad(`invalid UTF-8 string at byte ${p}`); }
    p += len;
    return s!;
  };
  const readBytes = (len: number): Uint8Array => { need(len); const b = bytes.slice(p, p + len); p += len; return b; };
  const u64len = (): number => { need(8); const v = dv.getBigUint64(p, true); p += 8; if (v > BigInt(n)) bad(`length ${v} at byte ${p - 8} exceeds the pickle size`); return Number(v); };
  const memoGet = (i: number) => { if (!memo.has(i)) bad(`memo key ${i} not found (corrupt pickle)`); return memo.get(i); };
  const intOf = (b: bigint): number | bigint => (b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b);
  const decodeLong = (len: number): number | bigint => {
    need(len);
    if (len === 0) return 0;
    let v = 0n;
    for (let i = len - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[p + i]);
    if (bytes[p + len - 1] & 0x80) v -= 1n << BigInt(8 * len);
    p += len;
    return intOf(v);
  };
  const call = (f: unknown, args: unknown): unknown => {
    if (!isPyCallable(f) || !f.call) bad(`cannot call ${describe(f)}: only allowed constructors can be called`);
    if (!Array.isArray(args)) bad(`REDUCE arguments for ${(f as PyCallable).__pyglobal__} are not a tuple`);
    return (f as PyCallable).call!(args as unknown[]);
  };
  const resolve = (module: string, name: string) => hooks.resolveGlobal(module, name);
  const setItems = (d: unknown, items: unknown[]) => {
    if (items.length % 2) bad('SETITEMS with an odd number of items');
    if (!isDict(d)) bad(`SETITEM(S) on a non-dict (${describe(d)})`);
    for (let i = 0; i < items.length; i += 2) setKey(d as Record<string, unknown>, items[i], items[i + 1]);
  };
  const appendItems = (l: unknown, items: unknown[]) => {
    if (!Array.isArray(l)) bad(`APPEND(S) on a non-list (${describe(l)})`);
    for (const it of items) (l as unknown[]).push(it);
  };

  for (;;) {
    if (p >= n) bad('pickle ends without STOP (truncated)');
    const at = p;
    const op = bytes[p++];
    switch (op) {
      case 0x80: need(1); p += 1; break; // PROTO
      case 0x95: need(8); p += 8; break; // FRAME
      case 0x2e: { // STOP
        const v = pop();
        return v;
      }
      case 0x28: metastack.push(stackRef); stackRef = []; break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stackRef.push(top()); break; // DUP
      case 0x4e: stackRef.push(null); break; // NONE
      case 0x88: stackRef.push(true); break; // NEWTRUE
      case 0x89: stackRef.push(false); break; // NEWFALSE
      case 0x49: { // INT (text)
        const s = readLine();
        if (s === '00') stackRef.push(false);
        else if (s === '01') stackRef.push(true);
        else { if (!/^[-+]?\d+$/.test(s)) bad(`bad INT ${JSON.stringify(s)}`); stackRef.push(intOf(BigInt(s))); }
        break;
      }
      case 0x4a: need(4); stackRef.push(dv.getInt32(p, true)); p += 4; break; // BININT
      case 0x4b: need(1); stackRef.push(bytes[p]); p += 1; break; // BININT1
      case 0x4d: need(2); stackRef.push(dv.getUint16(p, true)); p += 2; break; // BININT2
      case 0x4c: { // LONG (text)
        const s = readLine().replace(/L$/, '');
        if (!/^[-+]?\d+$/.test(s)) bad(`bad LONG ${JSON.stringify(s)}`);
        stackRef.push(intOf(BigInt(s)));
        break;
      }
      case 0x8a: { need(1); const len = bytes[p++]; stackRef.push(decodeLong(len)); break; } // LONG1
      case 0x8b: { need(4); const len = dv.getInt32(p, true); p += 4; if (len < 0 || len > n) bad('bad LONG4 length'); stackRef.push(decodeLong(len)); break; }
      case 0x46: { const s = readLine(); const v = Number(s); if (Number.isNaN(v) && !/nan/i.test(s)) bad(`bad FLOAT ${JSON.stringify(s)}`); stackRef.push(v); break; } // FLOAT
      case 0x47: need(8); stackRef.push(dv.getFloat64(p, false)); p += 8; break; // BINFLOAT (big-endian)
      case 0x53: { // STRING (text, quoted)
        const s = readLine();
        const m = /^(['"])(.*)\1$/s.exec(s);
        if (!m) bad('bad STRING');
        stackRef.push(m![2]);
        break;
      }
      case 0x54: { need(4); const len = dv.getInt32(p, true); p += 4; if (len < 0) bad('negative BINSTRING length'); need(len); stackRef.push(latin1.decode(bytes.subarray(p, p + len))); p += len; break; }
      case 0x55: { need(1); const len = bytes[p++]; need(len); stackRef.push(latin1.decode(bytes.subarray(p, p + len))); p += len; break; }
      case 0x56: stackRef.push(readLine().replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a, b) => String.fromCodePoint(parseInt(a ?? b, 16)))); break; // UNICODE
      case 0x58: { need(4); const len = dv.getUint32(p, true); p += 4; stackRef.push(readStr(len)); break; } // BINUNICODE
      case 0x8c: { need(1); const len = bytes[p++]; stackRef.push(readStr(len)); break; } // SHORT_BINUNICODE
      case 0x8d: { const len = u64len(); stackRef.push(readStr(len)); break; } // BINUNICODE8
      case 0x42: { need(4); const len = dv.getUint32(p, true); p += 4; stackRef.push(readBytes(len)); break; } // BINBYTES
      case 0x43: { need(1); const len = bytes[p++]; stackRef.push(readBytes(len)); break; } // SHORT_BINBYTES
      case 0x8e: case 0x96: { const len = u64len(); stackRef.push(readBytes(len)); break; } // BINBYTES8, BYTEARRAY8
      case 0x7d: stackRef.push({}); break; // EMPTY_DICT
      case 0x64: { const items = popMark(); const d = {}; setItems(d, items); stackRef.push(d); break; } // DICT
      case 0x5d: stackRef.push([]); break; // EMPTY_LIST
      case 0x6c: { const items = popMark(); stackRef.push(items); break; } // LIST
      case 0x29: stackRef.push([]); break; // EMPTY_TUPLE
      case 0x74: { const items = popMark(); stackRef.push(items); break; } // TUPLE
      case 0x85: stackRef.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stackRef.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stackRef.push([a, b, c]); break; } // TUPLE3
      case 0x8f: stackRef.push([]); break; // EMPTY_SET (as array)
      case 0x90: { const items = popMark(); appendItems(top(), items); break; } // ADDITEMS
      case 0x91: { const items = popMark(); stackRef.push(items); break; } // FROZENSET
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x70: { const s = readLine(); memo.set(Number(s), top()); break; } // PUT
      case 0x71: need(1); memo.set(bytes[p++], top()); break; // BINPUT
      case 0x72: need(4); memo.set(dv.getUint32(p, true), top()); p += 4; break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x67: stackRef.push(memoGet(Number(readLine()))); break; // GET
      case 0x68: need(1); stackRef.push(memoGet(bytes[p++])); break; // BINGET
      case 0x6a: need(4); stackRef.push(memoGet(dv.getUint32(p, true))); p += 4; break; // LONG_BINGET
      case 0x63: { const module = readLine(); const name = readLine(); stackRef.push(resolve(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop(); const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') bad('STACK_GLOBAL needs two strings');
        stackRef.push(resolve(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); const f = pop(); stackRef.push(call(f, args)); break; } // REDUCE
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        const maker = buildOwners.get(obj as object);
        if (maker?.build) stackRef[stackRef.length - 1] = maker.build(obj, state);
        else if (isDict(obj) || (typeof obj === 'object' && obj !== null && maker)) { /* state of an allowed object: ignored */ }
        else bad(`BUILD on ${describe(obj)} is not allowed`);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!hooks.persistentLoad) bad('pickle uses persistent ids, which this file type does not allow');
        stackRef.push(hooks.persistentLoad!(pid));
        break;
      }
      case 0x50: { // PERSID
        const pid = readLine();
        if (!hooks.persistentLoad) bad('pickle uses persistent ids, which this file type does not allow');
        stackRef.push(hooks.persistentLoad!(pid));
        break;
      }
      case 0x69: bad(`opcode INST (instantiating ${readLine()}.${readLine()}) is not allowed`); break;
      case 0x6f: bad('opcode OBJ (arbitrary object construction) is not allowed'); break;
      case 0x81: case 0x92: { // NEWOBJ, NEWOBJ_EX
        const kw = op === 0x92 ? pop() : undefined;
        void kw;
        const args = pop();
        const cls = pop();
        if (isPyCallable(cls) && cls.call) { stackRef.push(call(cls, args)); break; }
        bad(`opcode ${op === 0x81 ? 'NEWOBJ' : 'NEWOBJ_EX'} on ${describe(cls)} is not allowed`);
        break;
      }
      case 0x82: case 0x83: case 0x84: bad('extension registry opcodes (EXT1/2/4) are not allowed'); break;
      case 0x97: case 0x98: bad('out-of-band buffers (NEXT_BUFFER/READONLY_BUFFER) are not supported'); break;
      default:
        bad(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}`);
    }
  }
}

/** Objects created by an allowed callable that accepts BUILD, registered by the callable. */
export const buildOwners = new WeakMap<object, PyCallable>();

export function describe(x: unknown): string {
  if (isPyCallable(x)) return x.__pyglobal__;
  if (x === null) return 'None';
  if (Array.isArray(x)) return 'a list/tuple';
  return typeof x === 'object' ? 'an object' : typeof x;
}
