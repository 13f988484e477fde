/**
 * transformer-lens' default processing (spec LM §4), in float64 and in this order:
 * 1. fold_ln (biases from the unscaled weights, then scale, then centre over d_model);
 * 2. center_writing_weights; 3. center_unembed; 4. fold_value_biases.
 * Input: TL tensors with ln1/ln2/ln_final weights (convert.ts). Output: a new map without LN
 * weights, for normalization_type LNPre.
 */

interface Dims {
  nLayers: number;
  d: number;
  H: number;
  dh: number;
  dMlp: number;
  vocab: number;
  rotary: boolean;
}

/**
 * Folds an LN (w, b [d]) into `slabs` matrices W [slabs, d, n] with biases b [slabs, n]:
 * b += Σ_m lnb[m]·W[m, :];  W ← diag(lnw)·W;  W[m, :] −= mean_m' W[m', :]. Returns new arrays.
 */
function foldLnCentred(W: Float64Array, bias: Float64Array, lnw: Float64Array, lnb: Float64Array, slabs: number, d: number, n: number): { W: Float64Array; b: Float64Array } {
  const W2 = new Float64Array(W.length);
  const b2 = new Float64Array(bias);
  const mu = new Float64Array(n);
  const acc = new Float64Array(n);
  // row-major passes (W_U is [d, 50257] for GPT-2): bias from the unscaled rows, scaled rows, column means
  for (let s = 0; s < slabs; s++) {
    const o = s * d * n;
    mu.fill(0);
    acc.fill(0);
    for (let mm = 0; mm < d; mm++) {
      const r = o + mm * n;
      const bm = lnb[mm]!;
      const wm = lnw[mm]!;
      for (let j = 0; j < n; j++) {
        acc[j]! += W[r + j]! * bm;
        const v = W[r + j]! * wm;
        W2[r + j] = v;
        mu[j]! += v;
      }
    }
    for (let j = 0; j < n; j++) b2[s * n + j]! += acc[j]!; // bias + Σ_m lnb[m]·W[m, :], as transformer-lens
    for (let j = 0; j < n; j++) mu[j] = mu[j]! / d;
    for (let mm = 0; mm < d; mm++) {
      const r = o + mm * n;
      for (let j = 0; j < n; j++) W2[r + j]! -= mu[j]!;
    }
  }
  return { W: W2, b: b2 };
}

/** Each row of X [rows, n] minus its mean, in place. */
function centreRows(X: Float64Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    let mu = 0;
    for (let j = 0; j < n; j++) mu += X[r * n + j]!;
    mu /= n;
    for (let j = 0; j < n; j++) X[r * n + j]! -= mu;
  }
}

export function processTransformerLens(tl: Map<string, Float64Array>, c: Dims): Map<string, Float64Array> {
  const { d, H, dh, dMlp: m, vocab: V } = c;
  const g = (n: string) => tl.get(n)!;
  const out = new Map<string, Float64Array>();
  const WE = new Float64Array(g('embed.W_E'));
  centreRows(WE, V, d); // step 2
  out.set('embed.W_E', WE);
  if (!c.rotary) {
    const Wpos = new Float64Array(g('pos_embed.W_pos'));
    centreRows(Wpos, Wpos.length / d, d); // step 2
    out.set('pos_embed.W_pos', Wpos);
  }
  for (let L = 0; L < c.nLayers; L++) {
    const t = `blocks.${L}.`;
    // step 1: ln1 into W_Q, W_K, W_V [H, d, dh]
    const qkv: Record<string, { W: Float64Array; b: Float64Array }> = {};
    for (const x of ['Q', 'K', 'V']) qkv[x] = foldLnCentred(g(`${t}attn.W_${x}`), g(`${t}attn.b_${x}`), g(t + 'ln1.w'), g(t + 'ln1.b'), H, d, dh);
    // step 1: ln2 into W_in [d, d_mlp]
    const mlpIn = foldLnCentred(g(t + 'mlp.W_in'), g(t + 'mlp.b_in'), g(t + 'ln2.w'), g(t + 'ln2.b'), 1, d, m);
    // step 2: writing weights W_O [H·dh, d], b_O, W_out [d_mlp, d], b_out
    const WO = new Float64Array(g(t + 'attn.W_O'));
    centreRows(WO, H * dh, d);
    const bO = new Float64Array(g(t + 'attn.b_O'));
    centreRows(bO, 1, d);
    const Wout = new Float64Array(g(t + 'mlp.W_out'));
    centreRows(Wout, m, d);
    const bout = new Float64Array(g(t + 'mlp.b_out'));
    centreRows(bout, 1, d);
    // step 4: b_O += Σ_{h,e} b_V[h, e]·W_O[h, e, :] (centred W_O); b_V ← 0
    const bV = qkv['V']!.b;
    for (let mm = 0; mm < d; mm++) {
      let acc = 0;
      for (let he = 0; he < H * dh; he++) acc += bV[he]! * WO[he * d + mm]!;
      bO[mm]! += acc;
    }
    for (const x of ['Q', 'K', 'V']) out.set(`${t}attn.W_${x}`, qkv[x]!.W);
    out.set(t + 'attn.b_Q', qkv['Q']!.b);
    out.set(t + 'attn.b_K', qkv['K']!.b);
    out.set(t + 'attn.b_V', new Float64Array(H * dh));
    out.set(t + 'attn.W_O', WO);
    out.set(t + 'attn.b_O', bO);
    out.set(t + 'mlp.W_in', mlpIn.W);
    out.set(t + 'mlp.b_in', mlpIn.b);
    out.set(t + 'mlp.W_out', Wout);
    out.set(t + 'mlp.b_out', bout);
  }
  // step 1: ln_final into W_U [d, V]; step 3: centre W_U over the vocabulary, and b_U
  const U = foldLnCentred(g('unembed.W_U'), g('unembed.b_U'), g('ln_final.w'), g('ln_final.b'), 1, d, V);
  centreRows(U.W, d, V);
  centreRows(U.b, 1, V);
  out.set('unembed.W_U', U.W);
  out.set('unembed.b_U', U.b);
  return out;
}
