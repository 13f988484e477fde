/**
 * The self-contained HTML report (browser-safe): inline CSS, inline SVG figures and a few lines
 * of inline script to switch graph variants. No external resources at all.
 */
import { UserError } from '../../errors.js';
import type { RibResults } from '../../io/results.js';
import { edgeNorm, epsilonsFromAblation, type EdgeNormFn } from '../norms.js';
import { clusterResults } from '../clusters.js';
import { isCentred } from '../graph.js';
import { readAblationCurves } from '../ablation.js';
import { esc, clusterColor } from './svg.js';
import { graphSvg, pianoSvg, spectraSvg, ablationSvg, layerWidth, type AblationSeries } from './figures.js';

/** The parts of a `interbasis cluster` JSON the report uses. */
export interface ClusterDoc {
  gamma?: number;
  norm?: string;
  epsilon?: number | Record<string, number> | null;
  method?: string;
  modularity?: number;
  n_clusters?: number;
  n_non_singleton?: number;
  layers: string[];
  widths: number[];
  clusters: Array<{ id: number; size: number; span: number; layers_counter: Record<string, number> }>;
  assignment: Record<string, number[]>;
}

export interface ReportInput {
  results: RibResults;
  /** shown in the title */
  resultsName?: string;
  /** ablation JSONs (ours or the reference's), with a display name each */
  ablations?: Array<{ name: string; json: unknown }>;
  /** a cluster JSON from `interbasis cluster`; computed (Leiden, γ = gamma) when absent */
  clusters?: ClusterDoc | null;
  /** γ for computed clusters (default 1) */
  gamma?: number;
  maxNodes?: number;
  topK?: number;
  title?: string;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#111827;margin:0;background:#f3f4f6}
main{max-width:1280px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d1d5db;padding-bottom:4px}
.sub{color:#4b5563;margin:0 0 12px} .card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:14px 16px;margin:10px 0;overflow-x:auto}
table{border-collapse:collapse;font-size:13px} th,td{border-bottom:1px solid #e5e7eb;padding:4px 10px;text-align:right} th{background:#f9fafb} td:first-child,th:first-child{text-align:left}
.controls{display:flex;gap:18px;flex-wrap:wrap;margin-bottom:8px;font-size:13px} .controls fieldset{border:1px solid #d1d5db;border-radius:6px;padding:4px 10px}
.note{color:#6b7280;font-size:12.5px}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
svg .tick{font-size:11px;fill:#374151} svg .label{font-size:12px;fill:#111827} svg .ptitle{font-size:13px;font-weight:600;fill:#111827}
svg .layer-name{font-size:14px;font-weight:600;fill:#111827} svg .layer-sub{font-size:11px;fill:#6b7280} svg .node-label{font-size:9px;fill:#6b7280}
.legend span{display:inline-block;margin:2px 10px 2px 0;font-size:12.5px} .legend i{display:inline-block;width:11px;height:11px;border-radius:6px;margin-right:4px;vertical-align:-1px}
`;

const SCRIPT = `
(function(){
  function sel(name){var r=document.querySelector('input[name="'+name+'"]:checked');return r?r.value:null;}
  function update(){
    var o=sel('order'),c=sel('const');
    document.querySelectorAll('svg.graph-svg').forEach(function(s){
      s.style.display=(s.getAttribute('data-order')===o&&s.getAttribute('data-const')===c)?'':'none';
    });
  }
  document.querySelectorAll('.controls input').forEach(function(i){i.addEventListener('change',update);});
  update();
})();
`;

function tryEpsilons(r: RibResults, ablations: Array<{ name: string; json: unknown }>): { norm: EdgeNormFn; desc: string; ablation: unknown } | null {
  const edges = new Map(r.edges.map((e) => [e.inLayer, e.E]));
  for (const a of ablations) {
    const j = a.json as Record<string, unknown>;
    if (!j || !j.n_edges_required || !j.edge_masks) continue;
    try {
      const { epsilon } = epsilonsFromAblation(a.json, edges, { centred: isCentred(r) });
      return { norm: edgeNorm('bylayer-log', { epsilon }), desc: `per-layer log norm, ε from ${a.name}`, ablation: a.json };
    } catch {
      // masks of another build (shapes differ): not usable for these edges
    }
  }
  return null;
}

/** Build the report's HTML text. Throws UserError when the results have no edges. */
export function buildReportHtml(inp: ReportInput): string {
  const r = inp.results;
  if (!r.edges || r.edges.length === 0) {
    throw new UserError('report: the RIB results contain no edges (build with calculate_edges: true); the interaction graph needs them');
  }
  const ablations = inp.ablations ?? [];
  const eps = tryEpsilons(r, ablations);
  const graphNorm: EdgeNormFn = eps ? eps.norm : edgeNorm('sqrt');
  const normDesc = eps ? eps.desc : 'sqrt(E) (no edge-ablation results with matching masks were given)';
  const centred = isCentred(r);

  let clusters: ClusterDoc;
  let clusterNote: string;
  if (inp.clusters) {
    clusters = inp.clusters;
    clusterNote = `from the given cluster file (${clusters.method ?? 'leiden'}, γ = ${clusters.gamma ?? '?'}, norm ${clusters.norm ?? '?'})`;
  } else {
    const gamma = inp.gamma ?? 1;
    const run = clusterResults(r, { gamma, ablation: eps?.ablation, compare: false });
    clusters = run;
    clusterNote = `computed here: Leiden, γ = ${gamma}, norm ${run.norm}, seed ${run.seed}`;
  }
  const plotted = new Set(clusters.clusters.filter((c) => c.size > 1).map((c) => c.id));

  const maxNodes = inp.maxNodes ?? 30;
  const topK = inp.topK ?? 80;
  const variants: string[] = [];
  for (const order of ['rib', 'cluster'] as const) {
    for (const showConst of [false, true]) {
      variants.push(
        graphSvg(r, { order, showConst, maxNodes, topK, assignment: clusters.assignment, plotted, norm: graphNorm, centred, visible: order === 'rib' && !showConst }),
      );
    }
  }

  const series: AblationSeries[] = ablations.map((a) => {
    const c = readAblationCurves(a.json);
    const cfg = ((a.json as Record<string, unknown>).config ?? {}) as Record<string, unknown>;
    return { name: a.name, type: c.type, evalType: String(cfg.eval_type ?? 'accuracy'), results: c.results, nEdgesRequired: c.nEdgesRequired, noAblation: c.noAblation };
  });

  const dimsRows = r.nodeLayers
    .map((l) => {
      const b = r.bases.find((x) => x.nodeLayer === l)!;
      const lam = b.Lambda && b.Lambda.length ? b.Lambda[0]!.toExponential(3) : '—';
      return `<tr><td>${esc(l)}</td><td>${b.origDim}</td><td>${b.W ? b.W.cols : '—'}</td><td>${b.C ? b.C.cols : '— (unrotated)'}</td><td>${lam}</td></tr>`;
    })
    .join('');
  const edgeRows = r.edges
    .map((e) => {
      let s = 0;
      let mx = 0;
      for (const v of e.E.data) {
        s += v;
        if (v > mx) mx = v;
      }
      return `<tr><td>${esc(`${e.inLayer} → ${e.outLayer}`)}</td><td>${e.E.rows}×${e.E.cols}</td><td>${s.toExponential(3)}</td><td>${mx.toExponential(3)}</td></tr>`;
    })
    .join('');
  const clusterRows = clusters.clusters
    .filter((c) => c.size > 1)
    .slice(0, 12)
    .map((c) => `<tr><td><span class="legend"><i style="background:${clusterColor(c.id)}"></i>${c.id}</span></td><td>${c.size}</td><td>${c.span}</td><td style="text-align:left">${esc(Object.entries(c.layers_counter).map(([k, v]) => `${k}: ${v}`).join(', '))}</td></tr>`)
    .join('');
  const ablRows = series
    .map((s) => `<tr><td>${esc(s.name)}</td><td>${esc(s.type)}</td><td>${s.noAblation === null ? '—' : s.noAblation.toFixed(6)}</td><td style="text-align:left">${s.nEdgesRequired ? esc(Object.entries(s.nEdgesRequired).map(([k, v]) => `${k}: ${v}`).join(', ')) : '—'}</td></tr>`)
    .join('');

  const nodeAbl = ablationSvg(series, 'node');
  const edgeAbl = ablationSvg(series, 'edge');
  const title = inp.title ?? `Interaction graph report${inp.resultsName ? ` — ${inp.resultsName}` : ''}`;
  const basisFormula = String(r.config?.basis_formula ?? '');
  const graphLayers = clusters.layers;
  const graphWidths = clusters.widths ?? graphLayers.map((l) => layerWidth(r, l));

  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><main>
<h1>${esc(title)}</h1>
<p class="sub">Node layers ${esc(r.nodeLayers.join(' → '))}${basisFormula ? ` · basis ${esc(basisFormula)}` : ''}${centred ? ' · centred (RIB index 0 is the constant direction)' : ''}</p>

<h2>Interaction graph</h2>
<div class="card">
<div class="controls">
<fieldset><legend>node order</legend><label><input type="radio" name="order" value="rib" checked> RIB index (by Λ)</label> <label><input type="radio" name="order" value="cluster"> cluster</label></fieldset>
<fieldset><legend>constant direction</legend><label><input type="radio" name="const" value="hidden" checked> hidden</label> <label><input type="radio" name="const" value="shown"> shown</label></fieldset>
</div>
${variants.join('\n')}
<p class="note">At most the first ${maxNodes} directions of each layer; the ${topK} largest normalised edges between consecutive layers (line width ∝ weight; edge norm: ${esc(normDesc)}). Colours: clusters (${esc(clusterNote)}); grey nodes are in no multi-node cluster; black is the constant direction.</p>
</div>

<h2>Clusters</h2>
<div class="card" style="display:flex;gap:28px;flex-wrap:wrap;align-items:flex-start">
<div>${pianoSvg(graphLayers, graphWidths, clusters.assignment, plotted)}<p class="note">Piano plot: one column per layer, RIB index upwards; dark grey = no such direction, white = no multi-node cluster.</p></div>
<div><table><tr><th>cluster</th><th>size</th><th>span</th><th style="text-align:left">nodes per layer</th></tr>${clusterRows || '<tr><td colspan="4">no multi-node clusters</td></tr>'}</table>
<p class="note">${clusters.modularity !== undefined ? `modularity Q = ${clusters.modularity.toFixed(4)} · ` : ''}${clusters.n_non_singleton ?? plotted.size} multi-node clusters${clusters.n_clusters !== undefined ? ` of ${clusters.n_clusters}` : ''}</p></div>
</div>

<h2>Λ spectra</h2>
<div class="card">${spectraSvg(r)}</div>

<h2>Ablations</h2>
${series.length ? `<div class="card"><table><tr><th>run</th><th>type</th><th>no ablation</th><th style="text-align:left">edges required (bisect)</th></tr>${ablRows}</table></div>` : '<div class="card"><p class="note">No ablation results were given (pass --ablations FILE…).</p></div>'}
${nodeAbl ? `<div class="card">${nodeAbl}</div>` : ''}
${edgeAbl ? `<div class="card">${edgeAbl}</div>` : ''}

<h2>Dimensions</h2>
<div class="card" style="display:flex;gap:28px;flex-wrap:wrap">
<table><tr><th>layer</th><th>orig</th><th>after Gram truncation</th><th>RIB</th><th>Λ₀</th></tr>${dimsRows}</table>
<table><tr><th>edges</th><th>shape</th><th>Σ E</th><th>max E</th></tr>${edgeRows}</table>
</div>
<p class="note">Generated by interbasis. Self-contained: no external resources.</p>
</main>
<script>${SCRIPT}</script>
</body></html>
`;
}
