// Typed TS API over the SIMD Wasm kernels (browser-safe): the public entry point. The kernels live
// in init (loading), blas (GEMM, SYRK), eigen (eigh, SVD), math and build-kernels (fused LIB
// build kernels); operands.ts checks and copies operands; wasm.ts owns the instance and its arena.
// See docs/kernels.md.
export { initKernels, kernelsReady } from './init.js';
export { Resident, resident, withoutOperandScreen, type FloatArray } from './operands.js';
export { gemm, matmul, syrk, binaryGram, jtjAccumulate } from './blas.js';
export { lowRankSqAcc, lowRankSqAccGather, groupPairs, nearestChain, mlpEdgesAcc } from './build-kernels.js';
export { EIGH_SYMMETRY_TOL, eigh, eighQL, eighJacobi, eighTridiagonal, tridiagonalize, svd, type EighOptions } from './eigen.js';
export { exp, log, tanh, erf, cos, sin, pow, vexp, vlog, vtanh, verf, vcos, vsin, normals } from './math.js';
export { attentionForward, attentionBackward, attentionMprimeAcc, attentionEdgesAcc, ATTN_BLOCK_BYTES, type AttnShape, type AttnPoint } from './attention.js';
