// Public API of iovh. The addon is private (src/native/addon.ts); this is the
// typed surface on top.
export * from './kernel/errors.js';
export * from './kernel/uapi.js';
export * from './kernel/pattern.js';
export type * from './backend/types.js';
