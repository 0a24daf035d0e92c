/**
 * A tiny shell on the console: a line discipline (echo, backspace, CR or LF ends a line) and a command
 * loop over the command registry. Its output goes to the console only, not to the message buffer.
 */
import type { VcpuRequest } from '../../../../core/api/index.js';
import type { Kernel } from '../kern/kernel.js';
import type { CommandIo } from './commands.js';

const BS = 0x08;
const DEL = 0x7f;
const CR = 0x0d;
const LF = 0x0a;
/** ^U: erase the line. */
const NAK = 0x15;
const MAX_LINE = 1024;

export class Shell {
  private line: number[] = [];
  private lastWasCr = false;
  private readonly io: CommandIo;

  constructor(
    private readonly k: Kernel,
    private readonly write: (text: string) => void,
  ) {
    this.io = { kernel: k, print: (text) => write(text) };
  }

  get prompt(): string {
    return this.k.options.prompt;
  }

  start(): void {
    this.write(this.prompt);
  }

  /** Feeds typed bytes; runs each completed line. */
  *input(bytes: Uint8Array): Generator<VcpuRequest, void, unknown> {
    for (const b of bytes) {
      const afterCr = this.lastWasCr;
      this.lastWasCr = b === CR;
      if (b === LF && afterCr) continue;
      if (b === CR || b === LF) {
        this.write('\n');
        const text = new TextDecoder().decode(new Uint8Array(this.line));
        this.line = [];
        yield* this.run(text);
        this.write(this.prompt);
      } else if (b === BS || b === DEL) {
        if (this.line.length > 0) {
          this.line.pop();
          this.write('\b \b');
        }
      } else if (b === NAK) {
        this.write('\b \b'.repeat(this.line.length));
        this.line = [];
      } else if (b >= 0x20 && b < 0x7f && this.line.length < MAX_LINE) {
        this.line.push(b);
        this.write(String.fromCharCode(b));
      }
    }
  }

  /** Runs one command line. */
  *run(text: string): Generator<VcpuRequest, number, unknown> {
    const [name, ...args] = text.trim().split(/\s+/).filter((w) => w !== '');
    if (name === undefined) return 0;
    const command = this.k.commands.get(name);
    if (command === undefined) {
      this.write(`${name}: not found\n`);
      return 127;
    }
    try {
      return yield* command.run(args, this.io);
    } catch (error) {
      this.write(`${name}: ${(error as Error).message}\n`);
      return 1;
    }
  }
}
