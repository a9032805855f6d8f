import { createSocket, type Socket } from 'node:dgram';
import { createInterface } from 'node:readline';

/**
 * A UDP endpoint driven over stdin/stdout, for checking what a lab's NAT lets through:
 * `node udp-probe.js <bindAddress> [port]`. Prints `{"event":"ready","port":n}` once bound, then
 * `{"event":"message","from":"a.b.c.d","port":n,"text":"…"}` per datagram received. Commands (one
 * JSON object a line on stdin, answered `{"id":…}`): `{"cmd":"send","host":…,"port":…,"text":…}` (or `"hex"` for binary; messages carry both);
 * `{"cmd":"bind-extra","port":n}` opens another socket on the same address (its messages say
 * `"local":port`).
 */

function open(
  address: string,
  port: number,
  onMessage: (socket: Socket, msg: Buffer, from: string, fromPort: number) => void,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.on('message', (msg, rinfo) => onMessage(socket, msg, rinfo.address, rinfo.port));
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

async function main(argv: readonly string[]): Promise<void> {
  const [address = '0.0.0.0', portText = '0'] = argv;
  const print = (line: Record<string, unknown>): void => {
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  const report = (socket: Socket, msg: Buffer, from: string, port: number): void => {
    print({
      event: 'message',
      local: socket.address().port,
      from,
      port,
      text: msg.toString('utf8'),
      hex: msg.toString('hex'),
    });
  };
  const main = await open(address, Number(portText), report);
  const sockets = [main];
  print({ event: 'ready', port: main.address().port });
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    void (async () => {
      const request = JSON.parse(line) as {
        id: number;
        cmd: string;
        host?: string;
        port?: number;
        text?: string;
        hex?: string;
        from?: number;
      };
      try {
        if (request.cmd === 'send') {
          const socket = sockets.find((s) => s.address().port === request.from) ?? main;
          await new Promise<void>((resolve, reject) =>
            socket.send(
              request.hex === undefined ? Buffer.from(request.text ?? '') : Buffer.from(request.hex, 'hex'),
              request.port ?? 0,
              request.host ?? '',
              (e) => (e ? reject(e) : resolve()),
            ),
          );
          print({ id: request.id, ok: true });
        } else if (request.cmd === 'bind-extra') {
          const socket = await open(address, request.port ?? 0, report);
          sockets.push(socket);
          print({ id: request.id, port: socket.address().port });
        } else {
          print({ id: request.id, error: `unknown command ${request.cmd}` });
        }
      } catch (error) {
        print({ id: request.id, error: String(error) });
      }
    })();
  });
  lines.on('close', () => {
    for (const s of sockets) s.close();
  });
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
