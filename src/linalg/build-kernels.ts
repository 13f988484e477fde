// Fused kernels of the LIB build: low-rank squared accumulation (edges), group pairs (attention
// M′) and the nearest-neighbour row chain.
import { alloc, f64view, i32view, withArena } from './wasm.js';
import { checkArray, checkDim, copyIn } from './operands.js';

// ---------------------------------------------------------------- low-rank squared accumulation

/**
 * For each of nRows rows b: T = K0_b + L_bᵀ·R_b (m×n) and E += T ⊙ T ⊙ f_b (f_b[p] scales row p of
 * T; f null = 1). K0 is one shared m×n matrix (`k0PerRow` false) or nRows of them stacked. Row b's
 * factors L_b [k_b × m] and R_b [k_b × n] are stacked after the previous rows' in L and R, with
 * k_b = counts[b] (0 allowed). E [m×n] is accumulated in place and returned. One Wasm call for
 * all rows: the per-row GEMM is the `gemm` kernel (alpha 1, beta 1 onto a copy of K0_b).
 * `base` (optional, one entry per row): 0 chains row b onto row b−1, i.e. T_b = T_{b−1} + L_bᵀR_b
 * (for rows whose difference from the previous row is of lower rank); row 0 always starts at K0.
 * `diag` (optional): K0 holds `count` shared m×n matrices K0_d and every row starts from
 * T = Σ_d diag(coef_{b,d})·K0_d (coef: nRows × count × m; k0PerRow and base must be off).
 */
export function lowRankSqAcc(
  nRows: number, m: number, n: number, K0: Float64Array, k0PerRow: boolean,
  L: Float64Array, R: Float64Array, counts: Int32Array, f: Float64Array | null, E: Float64Array,
  base: Int32Array | null = null,
  diag: { count: number; coef: Float64Array } | null = null,
): Float64Array {
  const fn = 'lowRankSqAcc';
  checkDim(fn, 'm', m);
  checkDim(fn, 'n', n);
  if (!Number.isInteger(nRows) || nRows < 0) throw new RangeError(`${fn}: nRows must be a non-negative integer, got ${nRows}`);
  if (diag && (k0PerRow || base || !Number.isInteger(diag.count) || diag.count < 1)) throw new RangeError(`${fn}: diag needs a positive integer count, and neither k0PerRow nor base`);
  const nK0 = diag ? diag.count : k0PerRow ? nRows : 1;
  checkArray(fn, 'K0', K0, nK0 * m * n, `[${nK0 > 1 ? `${nK0} × ` : ''}${m} × ${n}]`, false);
  if (diag && diag.coef.length < nRows * diag.count * m) throw new RangeError(`${fn}: diag.coef has length ${diag.coef.length}, expected ${nRows * diag.count * m}`);
  checkArray(fn, 'E', E, m * n, `[${m} × ${n}]`, false);
  if (counts.length < nRows) throw new RangeError(`${fn}: counts has ${counts.length} entries, expected ${nRows}`);
  let kt = 0;
  for (let b = 0; b < nRows; b++) {
    const k = counts[b]!;
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`${fn}: counts[${b}] = ${k} is not a non-negative integer`);
    kt += k;
  }
  if (L.length < kt * m) throw new RangeError(`${fn}: L has length ${L.length}, expected at least ${kt * m} (Σ counts × m)`);
  if (R.length < kt * n) throw new RangeError(`${fn}: R has length ${R.length}, expected at least ${kt * n} (Σ counts × n)`);
  if (f && f.length < nRows * m) throw new RangeError(`${fn}: f has length ${f.length}, expected ${nRows * m}`);
  if (base && base.length < nRows) throw new RangeError(`${fn}: base has ${base.length} entries, expected ${nRows}`);
  if (nRows === 0) return E;
  return withArena((K) => {
    const pK0 = copyIn(fn, 'K0', K0.subarray(0, nK0 * m * n), n);
    const pCoef = diag ? copyIn(fn, 'diag.coef', diag.coef.subarray(0, nRows * diag.count * m), m) : 0;
    const pL = copyIn(fn, 'L', L.subarray(0, kt * m), m);
    const pR = copyIn(fn, 'R', R.subarray(0, kt * n), n);
    const pF = f ? copyIn(fn, 'f', f.subarray(0, nRows * m), m) : 0;
    const pE = copyIn(fn, 'E', E, n);
    const pK = alloc(nRows, 4, fn);
    i32view(pK, nRows).set(counts.subarray(0, nRows));
    let pBase = 0;
    if (base) {
      pBase = alloc(nRows, 4, fn);
      i32view(pBase, nRows).set(base.subarray(0, nRows));
    }
    const pT = alloc(m * n, 8, fn);
    const work = alloc(K.gemmWork(m, n), 8, fn);
    K.lowRankSqAcc(nRows, m, n, pK0, k0PerRow ? m * n : 0, pL, pR, pK, pBase, pF, pE, pT, work, diag ? diag.count : 0, pCoef);
    E.set(f64view(pE, m * n));
    return E;
  });
}

/**
 * `lowRankSqAcc` with a shared K0 and the factors gathered in Wasm from fixed matrices: the a-th
 * stacked atom uses row idx[a] of L0 [h × m] and scale[a]·(row idx[a] of R0 [h × n]); row b takes
 * the next counts[b] atoms. Saves building L and R in JS when the atoms are rows of fixed matrices
 * (e.g. the hidden units of an MLP). base and f as in lowRankSqAcc.
 */
export function lowRankSqAccGather(
  nRows: number, m: number, n: number, K0: Float64Array, L0: Float64Array, R0: Float64Array, h: number,
  idx: Int32Array, scale: Float64Array, counts: Int32Array, f: Float64Array | null, E: Float64Array,
  base: Int32Array | null = null,
): Float64Array {
  const fn = 'lowRankSqAccGather';
  checkDim(fn, 'm', m);
  checkDim(fn, 'n', n);
  checkDim(fn, 'h', h);
  if (!Number.isInteger(nRows) || nRows < 0) throw new RangeError(`${fn}: nRows must be a non-negative integer, got ${nRows}`);
  checkArray(fn, 'K0', K0, m * n, `[${m} × ${n}]`, false);
  checkArray(fn, 'L0', L0, h * m, `[${h} × ${m}]`, false);
  checkArray(fn, 'R0', R0, h * n, `[${h} × ${n}]`, false);
  checkArray(fn, 'E', E, m * n, `[${m} × ${n}]`, false);
  if (counts.length < nRows) throw new RangeError(`${fn}: counts has ${counts.length} entries, expected ${nRows}`);
  let kt = 0;
  let kmax = 0;
  for (let b = 0; b < nRows; b++) {
    const k = counts[b]!;
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`${fn}: counts[${b}] = ${k} is not a non-negative integer`);
    kt += k;
    kmax = Math.max(kmax, k);
  }
  if (idx.length < kt || scale.length < kt) throw new RangeError(`${fn}: idx/scale have ${Math.min(idx.length, scale.length)} entries, expected at least ${kt} (Σ counts)`);
  for (let a = 0; a < kt; a++) {
    const i = idx[a]!;
    if (!(i >= 0 && i < h)) throw new RangeError(`${fn}: idx[${a}] = ${i} is outside [0, ${h})`);
  }
  if (f && f.length < nRows * m) throw new RangeError(`${fn}: f has length ${f.length}, expected ${nRows * m}`);
  if (base && base.length < nRows) throw new RangeError(`${fn}: base has ${base.length} entries, expected ${nRows}`);
  if (nRows === 0) return E;
  return withArena((K) => {
    const pK0 = copyIn(fn, 'K0', K0, n);
    const pL0 = copyIn(fn, 'L0', L0, m);
    const pR0 = copyIn(fn, 'R0', R0, n);
    const pS = copyIn(fn, 'scale', scale.subarray(0, kt), 1);
    const pF = f ? copyIn(fn, 'f', f.subarray(0, nRows * m), m) : 0;
    const pE = copyIn(fn, 'E', E, n);
    const pIdx = alloc(Math.max(1, kt), 4, fn);
    const pK = alloc(nRows, 4, fn);
    const pBase = base ? alloc(nRows, 4, fn) : 0;
    const pT = alloc(m * n, 8, fn);
    const pLs = alloc(Math.max(1, kmax) * m, 8, fn);
    const pRs = alloc(Math.max(1, kmax) * n, 8, fn);
    const work = alloc(K.gemmWork(m, n), 8, fn);
    i32view(pIdx, kt).set(idx.subarray(0, kt));
    i32view(pK, nRows).set(counts.subarray(0, nRows));
    if (base) i32view(pBase, nRows).set(base.subarray(0, nRows));
    K.lowRankSqAccGather(nRows, m, n, pK0, pL0, pR0, pIdx, pS, pK, pBase, pF, pE, pT, pLs, pRs, work);
    E.set(f64view(pE, m * n));
    return E;
  });
}

/**
 * The per-shard squared edges of the MLP structure (src/rib/structures/mlp.ts gives the algebra;
 * assembly/mlpedges.ts the loops): Et [r_in × r_out] += Σ_rows Aᵀ ⊙ Aᵀ ⊙ f̂[r]², Aᵀ = K0 +
 * Σ_h m[r,h]·aᵀ[h]ᵀ b[h], for the integrated derivatives m [rows × H], f̂ [rows × r_in],
 * aᵀ [H × r_in], b [H × r_out] and K0 [r_in × r_out]. The units whose m is the same in more than half
 * of the rows enter K0 once; the rows are ordered in a nearest-pattern chain and each row updates
 * from the baseline or from the previous row, whichever takes fewer units. Returns Et.
 */
export function mlpEdgesAcc(rows: number, H: number, rin: number, rout: number, m: Float64Array, fhat: Float64Array, aT: Float64Array, bm: Float64Array, K0: Float64Array, Et: Float64Array): Float64Array {
  const fn = 'mlpEdgesAcc';
  checkDim(fn, 'rows', rows, 0);
  checkDim(fn, 'H', H);
  checkDim(fn, 'rin', rin);
  checkDim(fn, 'rout', rout);
  checkArray(fn, 'm', m, rows * H, `[${rows} × ${H}]`, false);
  checkArray(fn, 'fhat', fhat, rows * rin, `[${rows} × ${rin}]`, false);
  checkArray(fn, 'aT', aT, H * rin, `[${H} × ${rin}]`, false);
  checkArray(fn, 'bm', bm, H * rout, `[${H} × ${rout}]`, false);
  checkArray(fn, 'K0', K0, rin * rout, `[${rin} × ${rout}]`, false);
  checkArray(fn, 'Et', Et, rin * rout, `[${rin} × ${rout}]`, false);
  if (rows === 0) return Et;
  return withArena((K) => {
    const pM = copyIn(fn, 'm', m, H);
    const pF = copyIn(fn, 'fhat', fhat, rin);
    const pAT = copyIn(fn, 'aT', aT, rin);
    const pBm = copyIn(fn, 'bm', bm, rout);
    const pK0 = copyIn(fn, 'K0', K0, rout);
    const pE = copyIn(fn, 'Et', Et, rout);
    const work = alloc(K.mlpEdgesWork(rows, H, rin, rout), 1, fn);
    K.mlpEdgesAcc(rows, H, rin, rout, pM, pF, pAT, pBm, pK0, pE, work);
    Et.set(f64view(pE, rin * rout));
    return Et;
  });
}

/**
 * Pairwise accumulation within groups of atoms: for each group [start[g], start[g+1]) and atoms
 * α, β in it, Z[zRow[α], blk[β]·dh : +dh] += (u_α · W[wRow[β], (blk[α] >> 1)·dv : +dv]) · y_β.
 * u [n × dv], W [n × ldw], y [n × dh], Z [n × ldz] (accumulated in place and returned; null = start
 * from zeros, written into `o.into` [n × ldz] when given, else into a new array). The row maps
 * `o.wRow`, `o.zRow` (n entries in [0, n); absent = the atom's own index) let W be stored and Z be
 * written in another row order (e.g. grouped by head or block) without copies. blk[a] ≥ 0
 * with (blk[a] >> 1)·dv + dv ≤ ldw and blk[a]·dh + dh ≤ ldz. (The atom Gram K_αβ = u_αᵀΩu_β and
 * Z = K·Y of the attention M′, with W = rows of (Ω u_β)ᵀ.)
 */
export function groupPairs(
  start: Int32Array, blk: Int32Array, u: Float64Array, dv: number, W: Float64Array, ldw: number,
  y: Float64Array, dh: number, Z: Float64Array | null, ldz: number,
  o: { into?: Float64Array; wRow?: Int32Array; zRow?: Int32Array } = {},
): Float64Array {
  const into = o.into ?? null;
  const fn = 'groupPairs';
  const g = start.length - 1;
  if (g < 0) throw new RangeError(`${fn}: start needs at least one entry`);
  const n = start[g]!;
  if (start[0] !== 0) throw new RangeError(`${fn}: start[0] must be 0, got ${start[0]}`);
  for (let i = 0; i < g; i++) if (!(start[i + 1]! >= start[i]!)) throw new RangeError(`${fn}: start must be non-decreasing (start[${i + 1}] = ${start[i + 1]} < ${start[i]})`);
  if (blk.length < n) throw new RangeError(`${fn}: blk has ${blk.length} entries, expected ${n}`);
  for (let a = 0; a < n; a++) {
    const b = blk[a]!;
    if (!(b >= 0 && (b >> 1) * dv + dv <= ldw && b * dh + dh <= ldz)) throw new RangeError(`${fn}: blk[${a}] = ${b} is out of range for ldw ${ldw}, ldz ${ldz}`);
  }
  checkArray(fn, 'u', u, n * dv, `[${n} × ${dv}]`, false);
  checkArray(fn, 'W', W, n * ldw, `[${n} × ${ldw}]`, false);
  checkArray(fn, 'y', y, n * dh, `[${n} × ${dh}]`, false);
  if (Z) checkArray(fn, 'Z', Z, n * ldz, `[${n} × ${ldz}]`, false);
  if (Z && into) throw new RangeError(`${fn}: pass Z (accumulate) or into (start from zeros), not both`);
  if (into) checkArray(fn, 'into', into, n * ldz, `[${n} × ${ldz}]`, false);
  for (const [name, map] of [['wRow', o.wRow], ['zRow', o.zRow]] as const) {
    if (!map) continue;
    if (map.length < n) throw new RangeError(`${fn}: ${name} has ${map.length} entries, expected ${n}`);
    for (let a = 0; a < n; a++) if (!(map[a]! >= 0 && map[a]! < n)) throw new RangeError(`${fn}: ${name}[${a}] = ${map[a]} is outside [0, ${n})`);
  }
  const out = Z ?? into ?? new Float64Array(n * ldz);
  if (n === 0) return out;
  return withArena((K) => {
    const pU = copyIn(fn, 'u', u, dv);
    const pW = copyIn(fn, 'W', W, ldw);
    const pY = copyIn(fn, 'y', y, dh);
    let pZ: number;
    if (Z) pZ = copyIn(fn, 'Z', Z, ldz);
    else {
      pZ = alloc(n * ldz, 8, fn);
      f64view(pZ, n * ldz).fill(0);
    }
    const pS = alloc(g + 1, 4, fn);
    const pB = alloc(n, 4, fn);
    i32view(pS, g + 1).set(start);
    i32view(pB, n).set(blk.subarray(0, n));
    const rowMap = (map: Int32Array | undefined): number => {
      if (!map) return 0;
      const p = alloc(n, 4, fn);
      i32view(p, n).set(map.subarray(0, n));
      return p;
    };
    K.groupPairs(g, pS, pB, pU, pW, ldw, pY, pZ, ldz, dv, dh, rowMap(o.wRow), rowMap(o.zRow));
    out.set(f64view(pZ, n * ldz));
    return out;
  });
}

/**
 * Greedy nearest-neighbour chain over `rows` bitsets of `words` 32-bit words each (row-major in
 * `bits`; `words` even, so each row is whole 64-bit words): the order starts at row 0 and always
 * continues with the unused row nearest in Hamming distance to the current one, ties going to the
 * lowest row index. O(rows² · words) popcounts, in Wasm.
 */
export function nearestChain(bits: Int32Array, rows: number, words: number): Int32Array {
  const fn = 'nearestChain';
  checkDim(fn, 'rows', rows, 0);
  checkDim(fn, 'words', words);
  if (words % 2 !== 0) throw new RangeError(`${fn}: words must be even (whole 64-bit words per row), got ${words}`);
  if (bits.length < rows * words) throw new RangeError(`${fn}: bits has ${bits.length} entries, expected ${rows * words} ([${rows} × ${words}])`);
  const order = new Int32Array(rows);
  if (rows === 0) return order;
  return withArena((K) => {
    const pBits = alloc(rows * words, 4, fn);
    const pOrder = alloc(rows, 4, fn);
    const pRem = alloc(rows, 4, fn);
    i32view(pBits, rows * words).set(bits.subarray(0, rows * words));
    K.nearestChain(rows, words >> 1, pBits, pOrder, pRem);
    order.set(i32view(pOrder, rows));
    return order;
  });
}
