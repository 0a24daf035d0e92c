/** The `xeno console` client, as xl's xenconsole does it: a raw terminal joined to a domain's console socket. */
import { createConnection } from 'node:net';

/** Ctrl-]: xenconsole's default escape character. */
export const CONSOLE_ESCAPE = 0x1d;

/** Why {@link attachConsole} returned: the escape was typed, the socket closed (the domain went), or stdin ended. */
export type ConsoleDetachReason = 'escape' | 'closed' | 'eof';

/** The terminal side: process.stdin, or a stream standing in for it in tests. */
export interface ConsoleInput extends NodeJS.ReadableStream {
  readonly isTTY?: boolean;
  readonly isRaw?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export interface AttachConsoleOptions {
  /** The domain's console socket (`<run dir>/console/<domid>.sock`). */
  socketPath: string;
  stdin: ConsoleInput;
  stdout: NodeJS.WritableStream;
  /** Called once when the session ends, after the terminal is restored (print a newline, a message...). */
  onDetach?: (reason: ConsoleDetachReason) => void;
  /** The escape byte (default Ctrl-], 0x1d). */
  escape?: number;
}

/**
 * Connects to the console socket and joins it to the terminal: raw mode when stdin is a TTY, typed bytes
 * to the socket, the guest's output to stdout. Resolves with the reason once the escape byte is typed
 * (bytes before it on the same read are still sent), the socket closes, or stdin ends; the terminal's
 * mode is restored first. Rejects, with the terminal untouched, when the socket cannot be reached.
 */
export function attachConsole(options: AttachConsoleOptions): Promise<ConsoleDetachReason> {
  const { socketPath, stdin, stdout, onDetach } = options;
  const escape = options.escape ?? CONSOLE_ESCAPE;
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let raw: boolean | undefined;
    let connected = false;
    let done = false;

    const onInput = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const at = bytes.indexOf(escape);
      if (at < 0) {
        socket.write(bytes);
        return;
      }
      if (at > 0) socket.write(bytes.subarray(0, at));
      finish('escape');
    };
    const onOutput = (chunk: Buffer): void => void stdout.write(chunk);
    const onEnd = (): void => finish('eof');
    const onClose = (): void => finish('closed');

    function finish(reason: ConsoleDetachReason): void {
      if (done) return;
      done = true;
      stdin.off('data', onInput);
      stdin.off('end', onEnd);
      stdin.pause();
      if (raw !== undefined) stdin.setRawMode?.(raw);
      socket.off('data', onOutput);
      socket.off('close', onClose);
      if (reason === 'escape' || reason === 'eof') socket.end(() => socket.destroy());
      else socket.destroy();
      try {
        onDetach?.(reason);
      } finally {
        resolve(reason);
      }
    }

    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (connected) return finish('closed');
      done = true;
      reject(new Error(`cannot connect to the console socket ${socketPath}: ${error.code ?? error.message}`));
    });
    socket.once('connect', () => {
      connected = true;
      if (stdin.isTTY === true && typeof stdin.setRawMode === 'function') {
        raw = stdin.isRaw === true;
        stdin.setRawMode(true);
      }
      socket.on('data', onOutput);
      socket.on('close', onClose);
      stdin.on('data', onInput);
      stdin.on('end', onEnd);
      stdin.resume();
    });
  });
}
