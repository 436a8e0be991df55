import { connect } from 'node:net';

/** What `monitorCommands` has seen so far, and how to stop it. */
export interface RedisMonitor {
  /** Each command as sent, its name lower-cased, in the order Redis ran them. */
  commands: string[][];
  stop(): Promise<void>;
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  r: '\r',
  t: '\t',
  a: '\x07',
  b: '\b',
  '"': '"',
  '\\': '\\',
};

/** The arguments of one MONITOR line, unquoted as Redis quotes them (`sdscatrepr`). */
function argumentsOf(quoted: string): string[] {
  const args: string[] = [];
  for (const [, raw] of quoted.matchAll(/"((?:[^"\\]|\\.)*)"/g))
    args.push(
      raw.replace(/\\x([0-9a-f]{2})|\\(.)/g, (_m, hex: string | undefined, c: string | undefined) =>
        hex === undefined ? (ESCAPES[c as string] ?? (c as string)) : String.fromCharCode(parseInt(hex, 16)),
      ),
    );
  return args;
}

/**
 * Every command a client sends that names `prefix` in an argument, as Redis' MONITOR reports it (commands run
 * inside scripts left out), from the moment this resolves. A socket of its own rather than ioredis'
 * `monitor()`: on a loaded server the first monitor lines can arrive in the same read as MONITOR's `+OK`, and
 * ioredis then takes them for replies to no command and fails ("Command queue state error").
 */
export async function monitorCommands(url: string, prefix: string): Promise<RedisMonitor> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port || 6379), hostname);
  const commands: string[][] = [];
  let pending = '';
  await new Promise<void>((resolve, reject) => {
    let started = false;
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      const lines = pending.split('\r\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!started) {
          if (line !== '+OK') reject(new Error(`MONITOR answered ${line}`));
          started = true;
          resolve();
          continue;
        }
        // +<time> [<db> <client address, or lua>] "<command>" "<argument>" ...
        const source = /^\+\S+ \[\d+ (\S+)\] /.exec(line);
        if (!source || source[1] === 'lua') continue;
        const args = argumentsOf(line.slice(source[0].length));
        if (args.length > 0 && args.some((arg) => arg.includes(prefix)))
          commands.push([args[0].toLowerCase(), ...args.slice(1)]);
      }
    });
    socket.write('MONITOR\r\n');
  });
  return {
    commands,
    stop: () =>
      new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.once('close', () => resolve());
        socket.destroy();
      }),
  };
}
