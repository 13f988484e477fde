/**
 * The one place that picks a section's structure strategy for a stage. The structure itself is
 * decided from the section's modules (`Section.structure`, src/models/structure.ts); a structure
 * serves a stage only where its closed form holds (deterministic jacobian M′ — or M′ with position
 * sources only on a section that does not mix positions, where they give the same M′ — and
 * deterministic squared edges); every other case takes the generic VJP path. Build, M′ and edge shards and the
 * ablation evaluator all call `structureFor`.
 */
import type { Section } from '../../models/types.js';
import { attention } from './attention.js';
import { generic } from './generic.js';
import { linear } from './linear.js';
import { mlp } from './mlp.js';
import { positionwise } from './positionwise.js';
import type { Structure } from './types.js';

export type { Structure, MprimeShardPayload, MprimeShardResult, EdgesShardPayload, AblationCache, ActSource, Recompute } from './types.js';
export type { EdgeBasis, PatternGroup } from './masks.js';

export interface StageMode {
  /** false forces the generic path (the benchmark baseline and the tests' oracle) */
  structured?: boolean;
  /** M′: basis formula; edges: edge formula */
  formula?: string;
  /** stochastic sources in use */
  stochastic?: boolean;
  /**
   * M′: the only stochastic sources are over positions (n_stochastic_sources_basis_pos without
   * _hidden). On a section that does not mix positions these give the deterministic M′ exactly
   * (each probe's cotangent is φ_t·u at every output position t, the input cotangent at s is
   * φ_s·J_sᵀu, and φ_s² = 1), so such a section keeps its closed form.
   */
  positionSourcesOnly?: boolean;
}

const BY_TYPE = { linear, mlp, attention, positionwise } as const;

/** The structure of `sec` that serves `stage` under `mode`. */
export function structureFor(sec: Section, stage: 'mprime' | 'edges' | 'ablation', mode: StageMode = {}): Structure {
  if (mode.structured === false) return generic;
  const st = sec.structure;
  if (stage === 'mprime') {
    if (mode.formula !== 'jacobian') return generic;
    if (mode.stochastic && !(mode.positionSourcesOnly && st && st.type !== 'attention')) return generic;
  }
  if (stage === 'edges' && (mode.formula !== 'squared' || mode.stochastic)) return generic;
  return st ? BY_TYPE[st.type] : generic;
}
