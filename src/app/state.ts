/** The explorer's view state, kept in the URL's query string (shareable links). */
export interface ViewState {
  /** log10 of the edge threshold (fraction of each layer pair's largest edge) */
  t: number;
  /** top-k per node (0 = off) */
  k: number;
  /** log10 γ */
  g: number;
  seed: number;
  /** target non-singleton clusters (0 = off) */
  n: number;
  norm: string;
  pin: { layer: number; index: number } | null;
  tab: string;
}

export const DEFAULT_STATE: ViewState = { t: -2, k: 0, g: Math.log10(0.5), seed: 0, n: 0, norm: 'sqrt', pin: null, tab: 'clusters' };

export function readState(url: URL = new URL(location.href)): ViewState {
  const q = url.searchParams;
  const num = (k: string, d: number) => {
    const v = q.get(k);
    const x = v === null ? NaN : Number(v);
    return Number.isFinite(x) ? x : d;
  };
  const pin = q.get('pin');
  const m = pin ? /^(\d+):(\d+)$/.exec(pin) : null;
  return {
    t: num('t', DEFAULT_STATE.t),
    k: Math.max(0, Math.floor(num('k', DEFAULT_STATE.k))),
    g: num('g', DEFAULT_STATE.g),
    seed: Math.max(0, Math.floor(num('seed', 0))),
    n: Math.max(0, Math.floor(num('n', 0))),
    norm: q.get('norm') ?? DEFAULT_STATE.norm,
    pin: m ? { layer: Number(m[1]), index: Number(m[2]) } : null,
    tab: q.get('tab') ?? DEFAULT_STATE.tab,
  };
}

export function writeState(s: ViewState): void {
  const url = new URL(location.href);
  const q = url.searchParams;
  const set = (k: string, v: string | null) => (v === null ? q.delete(k) : q.set(k, v));
  set('t', String(Number(s.t.toFixed(2))));
  set('k', s.k ? String(s.k) : null);
  set('g', String(Number(s.g.toFixed(3))));
  set('seed', s.seed ? String(s.seed) : null);
  set('n', s.n ? String(s.n) : null);
  set('norm', s.norm === DEFAULT_STATE.norm ? null : s.norm);
  set('pin', s.pin ? `${s.pin.layer}:${s.pin.index}` : null);
  set('tab', s.tab === DEFAULT_STATE.tab ? null : s.tab);
  history.replaceState(null, '', url);
}
