import { afterEach, describe, expect, it } from 'vitest';
import { GuestError } from '../../../../core/api/index.js';
import { rig, SocketClient, type Rig } from './helpers.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

describe('xenconsoled serial consoles', () => {
  it('a serial line gets its own log and socket and wins socketPath, log, onOutput and input over the ring', async () => {
    r = await rig(1);
    const g = r.introduce(1);
    r.run();
    const ringSocket = r.daemon.socketPath(1);
    const line = r.daemon.attachSerial(1);
    expect(() => r!.daemon.attachSerial(1)).toThrow(GuestError);
    await r.daemon.whenListening(1);
    const path = r.daemon.socketPath(1)!;
    expect(path).not.toBe(ringSocket);
    expect(path).toMatch(/1-serial\.sock$/);
    const heard: string[] = [];
    r.daemon.onOutput(1, (t) => heard.push(t));
    const typed: string[] = [];
    line.onInput((t) => typed.push(t));
    const client = await SocketClient.connect(path);
    line.write('login: ');
    g.write('from the ring\n');
    r.run();
    await r.until(() => client.text() === 'login: ', 'serial output on the socket');
    expect(r.daemon.log(1)).toBe('login: ');
    expect(r.daemon.ringLog(1)).toBe('from the ring\n');
    expect(heard).toEqual(['login: ']);
    r.daemon.input(1, 'root\n');
    client.socket.write('x');
    await r.until(() => typed.length === 2, 'typed input');
    expect(typed).toEqual(['root\n', 'x']);
    expect(r.daemon.attached()).toEqual([1]);
    line.close();
    expect(r.daemon.socketPath(1)).toBe(ringSocket);
    client.socket.destroy();
  });
});
