// Runs before every test file (vitest.config.ts setupFiles).
import { afterAll } from 'vitest';
import { removeScratch } from './scratch.js';

afterAll(removeScratch);
