/** The shell's command table: commands register by name; `help` lists them. */
import type { VcpuRequest } from '../../../../core/api/index.js';
import type { Kernel } from '../kern/kernel.js';

/** What a command may use: the kernel, and its standard output (the console). */
export interface CommandIo {
  readonly kernel: Kernel;
  print(text: string): void;
}

/** One shell command. `run` returns its exit status (0 = success). */
export interface ShellCommand {
  readonly name: string;
  /** One line for `help`. */
  readonly summary: string;
  run(args: readonly string[], io: CommandIo): Generator<VcpuRequest, number, unknown>;
}

export class CommandRegistry {
  private readonly commands = new Map<string, ShellCommand>();

  /** Adds a command; a name already taken is an error. */
  register(command: ShellCommand): void {
    if (this.commands.has(command.name)) throw new Error(`shell: command "${command.name}" is already registered`);
    this.commands.set(command.name, command);
  }

  get(name: string): ShellCommand | undefined {
    return this.commands.get(name);
  }

  /** Every command, sorted by name. */
  list(): ShellCommand[] {
    return [...this.commands.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
