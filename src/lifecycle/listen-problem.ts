import { createServer } from 'node:net';

/**
 * A listen failure a person can act on, as one line naming the setting to change; undefined for any
 * other error (that one keeps its stack). `setting` is the variable the port came from (`PORT`,
 * `SANDBOX_EMULATOR_PORT`, the standalone emulator's `EMULATOR_PORT`), `hostSetting` the one the host came
 * from.
 */
export function listenProblem(
  error: unknown,
  setting: string,
  host: string,
  port: number,
  hostSetting = 'HOST',
): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return (
        `${setting}=${port}: port ${port} on ${host} is already in use by another process. ` +
        `Stop that process, or set ${setting} to a free port (${setting}=0 picks one).`
      );
    case 'EACCES':
      return (
        `${setting}=${port}: this user may not listen on port ${port} on ${host} (ports below 1024 need ` +
        `privileges). Set ${setting} to a port above 1023.`
      );
    case 'EADDRNOTAVAIL':
      return `${hostSetting}=${host}: no network interface of this machine has that address. Set ${hostSetting} to one of its addresses, or 0.0.0.0 for all.`;
    default:
      return undefined;
  }
}

/**
 * Whether `host:port` can be listened on now: binds and releases it, and resolves with the error a listen
 * would get (undefined when free). Checked before the application starts, so a busy port is reported
 * before anything says "started"; the listen itself still handles the rare port taken in between.
 */
export function probeListen(host: string, port: number): Promise<Error | undefined> {
  if (port === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error) => resolve(error));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}
