// Greedy nearest-neighbour chain over bitset rows (the row order of the MLP squared edges in
// src/rib/edges.ts): start at row 0, then repeatedly the unused row nearest in Hamming distance to
// the current one (ties: the lowest row index).

/**
 * rows bitsets of w 64-bit words each at pBits; writes the order (rows i32) at pOrder. pRem: rows
 * i32 of scratch (the unused rows, kept ascending).
 */
export function nearestChain(rows: i32, w: i32, pBits: usize, pOrder: usize, pRem: usize): void {
  if (rows <= 0) return;
  let nRem = rows - 1;
  for (let i = 0; i < nRem; i++) store<i32>(pRem + (<usize>i << 2), i + 1);
  store<i32>(pOrder, 0);
  const rowBytes = <usize>w << 3;
  let cur = 0;
  for (let k = 1; k < rows; k++) {
    const co = pBits + <usize>cur * rowBytes;
    let best = 0;
    let bd = i32.MAX_VALUE;
    for (let i = 0; i < nRem; i++) {
      const jo = pBits + <usize>load<i32>(pRem + (<usize>i << 2)) * rowBytes;
      let dd = 0;
      for (let t = 0; t < w && dd < bd; t++) {
        const o = <usize>t << 3;
        dd += <i32>popcnt<i64>(load<i64>(co + o) ^ load<i64>(jo + o));
      }
      if (dd < bd) {
        bd = dd;
        best = i;
        if (bd == 0) break;
      }
    }
    cur = load<i32>(pRem + (<usize>best << 2));
    store<i32>(pOrder + (<usize>k << 2), cur);
    memory.copy(pRem + (<usize>best << 2), pRem + (<usize>(best + 1) << 2), <usize>(nRem - best - 1) << 2);
    nRem--;
  }
}
