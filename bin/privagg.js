#!/usr/bin/env node
// Launcher for the `privagg` command: runs the TypeScript CLI through tsx, so the command works right
// after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
