/** The registry of `privagg` subcommands, in the order `--help` lists them. */
import { benchCommand } from './bench.ts';
import { clientCommand } from './client.ts';
import type { Command } from './command.ts';
import { demoCommand } from './demo.ts';
import { epsilonCommand } from './epsilon.ts';
import { keygenCommand } from './keygen.ts';
import { serveCommand } from './serve.ts';

export const commands: readonly Command[] = [
  serveCommand,
  clientCommand,
  keygenCommand,
  epsilonCommand,
  demoCommand,
  benchCommand,
];
