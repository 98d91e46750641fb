/** The registry of `privagg` subcommands, in the order `--help` lists them. */
import type { Command } from './command.ts';
import { epsilonCommand } from './epsilon.ts';

export const commands: readonly Command[] = [epsilonCommand];
