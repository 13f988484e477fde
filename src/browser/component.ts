/**
 * `<interbasis-graph>`: a lit web component that draws a build's layered interaction graph (SVG)
 * with a threshold and top-k control, hover highlighting and a details box for the clicked node.
 *
 *   <script type="module" src="interbasis-graph.js"></script>
 *   <interbasis-graph src="results.safetensors" threshold="0.01" top-k="3"></interbasis-graph>
 *
 * Attributes: src (results.safetensors URL; its .json beside it is fetched too, needed for the
 * reference's rib_graph_*.safetensors), json (explicit URL of the JSON), threshold (fraction of
 * each layer pair's largest edge, default 0.01), top-k (0 = off), max-nodes (per layer, default
 * 60), width, height, controls (show the sliders; default on, "off" hides them). Data may also
 * be inline: a child <script type="application/octet-stream" data-role="tensors"> (base64) and
 * optionally <script type="application/json" data-role="json">. The element's `state` attribute
 * is loading, ready or error (the message in `error`).
 */
import { LitElement, css, html, type PropertyValues } from 'lit';
import { resultsFromBytes } from './results.js';
import { fetchBytes } from './inputs.js';
import { ExplorerGraph } from './explorer/graph-model.js';
import { attachHover, drawSvg, SVG_STYLE } from './explorer/svg.js';

function base64Bytes(s: string): Uint8Array {
  const bin = atob(s.replace(/\s+/g, ''));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export class InterbasisGraph extends LitElement {
  static override properties = {
    src: { type: String },
    json: { type: String },
    threshold: { type: Number },
    topK: { type: Number, attribute: 'top-k' },
    maxNodes: { type: Number, attribute: 'max-nodes' },
    width: { type: Number },
    height: { type: Number },
    controls: { type: String },
    info: { state: true },
  };

  static override styles = [
    css`
      :host { display: block; font: 13px system-ui, sans-serif; }
      .bar { display: flex; gap: 12px; align-items: center; margin: 4px 0; flex-wrap: wrap; }
      .info, .hover { min-height: 1.4em; color: #333; }
      .err { color: #b00020; }
    `,
  ];

  // reactive properties are declared, not initialised as class fields (those would shadow lit's accessors)
  declare src: string;
  declare json: string;
  declare threshold: number;
  declare topK: number;
  declare maxNodes: number;
  declare width: number;
  declare height: number;
  declare controls: string;
  declare info: string;

  constructor() {
    super();
    this.src = '';
    this.json = '';
    this.threshold = 0.01;
    this.topK = 0;
    this.maxNodes = 60;
    this.width = 900;
    this.height = 480;
    this.controls = 'on';
    this.info = '';
  }

  graph: ExplorerGraph | null = null;
  private pinned: { layer: number; index: number } | null = null;
  private loadSeq = 0;

  override connectedCallback(): void {
    super.connectedCallback();
    if (!this.src) void this.loadInline();
  }

  protected override updated(changed: PropertyValues): void {
    if (changed.has('src') || changed.has('json')) {
      if (this.src) void this.load();
    }
    this.draw();
  }

  private async loadInline(): Promise<void> {
    const t = this.querySelector('script[data-role="tensors"]');
    if (!t) return;
    const j = this.querySelector('script[data-role="json"]');
    await this.open(async () => resultsFromBytes(base64Bytes(t.textContent ?? ''), j ? (j.textContent ?? '') : null, 'inline results'));
  }

  private async load(): Promise<void> {
    const src = new URL(this.src, document.baseURI);
    const jsonUrl = this.json ? new URL(this.json, document.baseURI) : new URL(src.pathname.replace(/\.safetensors$/i, '.json') + src.search, src);
    await this.open(async () => {
      const tensors = await fetchBytes(src, 'src');
      const json = await fetchBytes(jsonUrl, 'json').catch((e) => {
        if (this.json) throw e;
        return null;
      });
      return resultsFromBytes(tensors, json, src.pathname.split('/').pop() ?? 'results.safetensors');
    });
  }

  private async open(get: () => ReturnType<typeof resultsFromBytes>): Promise<void> {
    const seq = ++this.loadSeq;
    this.setAttribute('state', 'loading');
    try {
      const r = await get();
      if (seq !== this.loadSeq) return;
      this.graph = ExplorerGraph.fromResults(r);
      this.pinned = null;
      this.info = '';
      this.setAttribute('state', 'ready');
      this.removeAttribute('error');
      this.requestUpdate();
    } catch (e) {
      if (seq !== this.loadSeq) return;
      this.graph = null;
      this.setAttribute('state', 'error');
      this.setAttribute('error', (e as Error).message);
      this.info = (e as Error).message;
    }
  }

  private draw(): void {
    const host = this.renderRoot.querySelector('.graph');
    if (!host) return;
    if (!this.graph) {
      host.replaceChildren();
      return;
    }
    const g = this.graph;
    const svg = drawSvg(g, { threshold: this.threshold, topK: this.topK, width: this.width, height: this.height, maxNodes: this.maxNodes, pinned: this.pinned });
    attachHover(svg, (t) => {
      // .hover has no template parts, so writing into it directly is safe
      const i = this.renderRoot.querySelector('.hover');
      if (i) i.textContent = t ?? '';
    });
    svg.addEventListener('click', (ev) => {
      const t = ev.target as SVGElement;
      if (!t.classList.contains('node')) return;
      const l = Number(t.dataset.l);
      const i = Number(t.dataset.index);
      this.pinned = { layer: l, index: i };
      const L = g.layers[l]!;
      const lam = g.lambda(L, i);
      const top = g.loadings(L, i, 4).map((x) => `${x.coord}: ${x.value.toPrecision(3)}`).join(', ');
      this.info = `${L}[${i}] Λ=${lam === null ? '–' : lam.toPrecision(4)}${top ? ` · C column: ${top}` : ''}`;
      this.dispatchEvent(new CustomEvent('node-click', { detail: { layer: L, index: i, lambda: lam }, bubbles: true, composed: true }));
      this.draw();
    });
    host.replaceChildren(svg);
    this.setAttribute('nodes', String(svg.querySelectorAll('circle.node').length));
    this.setAttribute('edges', svg.dataset.edges ?? '0');
  }

  override render() {
    const bar =
      this.controls === 'off'
        ? null
        : html`<div class="bar">
            <label>threshold <input type="range" min="-6" max="0" step="0.05" .value=${String(Math.log10(this.threshold))} @input=${(e: Event) => (this.threshold = 10 ** Number((e.target as HTMLInputElement).value))} /></label>
            <label>top-k <input type="number" min="0" .value=${String(this.topK)} @change=${(e: Event) => (this.topK = Math.max(0, Number((e.target as HTMLInputElement).value) || 0))} style="width:4em" /></label>
          </div>`;
    return html`<style>${SVG_STYLE}</style>${bar}<div class="graph"></div><div class="hover"></div><div class="info ${this.getAttribute('state') === 'error' ? 'err' : ''}">${this.info}</div>`;
  }
}

if (!customElements.get('interbasis-graph')) customElements.define('interbasis-graph', InterbasisGraph);
