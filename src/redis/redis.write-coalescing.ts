import { AbstractConnector } from 'ioredis';
import { createConnection, Socket, type NetConnectOpts } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';

/**
 * Makes the socket's writes of one event-loop turn leave together: the first write of a turn corks it, and
 * the turn's check phase (`setImmediate`) uncorks it, so every command written by all the I/O callbacks of
 * one poll phase goes out in one `writev`. ioredis' `enableAutoPipelining` batches only one tick
 * (`process.nextTick`), and commands of different requests come from different I/O callbacks (ADR 0048).
 * The bytes, their order and the connection are unchanged; a write waits at most for the end of its turn
 * (one issued in a check-phase callback after the flush leaves in the next turn's check phase). `end()`
 * flushes a corked socket itself and `destroy()` drops it (ioredis then resends or fails its commands as
 * for any socket that died with commands unanswered).
 *
 * The write is wrapped on the instance, once connect() has run: `Socket.prototype.connect` sets
 * `this.write` back to `Socket.prototype.write` (undoing its own `writeAfterFIN`), so a subclass' `write`
 * would not survive it.
 */
export function coalesceWritesPerTurn(socket: Socket): void {
  let corked = false;
  const flushTurn = (): void => {
    corked = false;
    socket.uncork();
  };
  const write = socket.write;
  socket.write = function (this: Socket, ...args: unknown[]): boolean {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(flushTurn);
    }
    return (write as (...args: unknown[]) => boolean).apply(this, args);
  };
}

/** The options ioredis hands a connector (its `RedisOptions`, of which a connection needs these). */
interface ConnectionTarget {
  host?: string;
  port?: number;
  path?: string;
  family?: number;
  tls?: ConnectionOptions;
  disconnectTimeout: number;
}

/**
 * ioredis' `Connector` seam (`RedisOptions.Connector`): ioredis calls `connect()` for the first connection
 * and for every reconnect, and a Redis Cluster passes its `redisOptions` to each node's connection, so every
 * command socket coalesces its writes. It opens the socket as ioredis' own `StandaloneConnector` does (same
 * options, same "closed before connecting" rule, the first error kept for ioredis to report).
 */
export class WriteCoalescingConnector extends AbstractConnector {
  private readonly options: ConnectionTarget;

  // ioredis passes its options with the defaults filled in (`ConnectorConstructor` types them unknown).
  constructor(options: unknown) {
    super((options as ConnectionTarget).disconnectTimeout);
    this.options = options as ConnectionTarget;
  }

  connect(): Promise<Socket> {
    this.connecting = true;
    const { host, port, path, family, tls } = this.options;
    // Opened on the next tick, as ioredis' connector does: a disconnect() in between cancels it.
    return new Promise((resolve, reject) => {
      process.nextTick(() => {
        if (!this.connecting) return reject(new Error('Connection is closed.'));
        const target: NetConnectOpts = path
          ? { path }
          : { host, port: port ?? 6379, ...(family ? { family } : {}) };
        let stream: Socket;
        try {
          stream = tls ? connectTls({ ...target, ...tls } as ConnectionOptions) : createConnection(target);
        } catch (error) {
          return reject(error instanceof Error ? error : new Error(String(error)));
        }
        coalesceWritesPerTurn(stream);
        this.stream = stream;
        // ioredis reports this error if the socket fails before its own listeners are on.
        stream.once('error', (error) => (this.firstError = error));
        resolve(stream);
      });
    });
  }
}
