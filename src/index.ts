// Public API of iovh. The addon is private (src/core/addon.ts); this is the
// typed surface on top.
export * from './uapi/errors.js';
export * from './uapi/constants.js';
export * from './uapi/pattern.js';
export type * from './backend/types.js';
