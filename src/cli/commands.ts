/** The registry of `privagg` subcommands, in the order `--help` lists them. */
import type { Command } from './command.ts';

export const commands: readonly Command[] = [];
