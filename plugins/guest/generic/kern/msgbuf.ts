/** The kernel message buffer (FreeBSD's msgbuf): what `dmesg` shows, bounded, oldest text dropped first. */

/** MSGBUF_SIZE of a small FreeBSD kernel. */
export const MSGBUF_SIZE = 96 * 1024;

/** Where printed text goes once a console attached. */
export type ConsoleSink = (text: string) => void;

export class MsgBuf {
  private text = '';
  private sink: ConsoleSink | undefined;

  constructor(private readonly size = MSGBUF_SIZE) {}

  /** Appends `text` and writes it to the console, if one is attached. */
  print(text: string): void {
    this.text += text;
    if (this.text.length > this.size) this.text = this.text.slice(this.text.length - this.size);
    this.sink?.(text);
  }

  /** One line (a newline is added). */
  printf(line: string): void {
    this.print(`${line}\n`);
  }

  /** Attaches the console: it gets everything buffered so far (the early boot log), then every print. */
  attachConsole(sink: ConsoleSink): void {
    this.sink = sink;
    if (this.text) sink(this.text);
  }

  /** The buffer's contents, as `dmesg` prints them. */
  contents(): string {
    return this.text;
  }
}
