// The kernel-shape module: the symbol table per kernel line and revision
// (table.ts) and the detector over it (detect.ts). Below host/ and harness/,
// so doctor, the capability probe and the reports share it.
export {
  detectShape,
  parseRelease,
  type FeatureProbe,
  type KernelShape,
  type ShapeEvidence,
  type ShapeInput,
} from './detect.js';
export {
  MAPTYPE_IOV_TYPE,
  P2P_ROUTE_PROBE,
  P2P_ROUTES,
  shapeRows,
  tableSymbols,
  type IovPath,
  type Line,
  type ProbeKey,
  type ProbePoint,
  type ShapeName,
  type ShapeRow,
} from './table.js';
