import { once } from 'node:events';
import { resolveConfig, type ResolvedConfig } from '../../daemon/config.js';
import { isDaemonError } from '../../daemon/errors.js';
import {
  type CliIo,
  type Command,
  type CommandArgs,
  type CommandOptions,
  positionals,
  UsageError,
} from '../command.js';

/** Flags of `start` and `config`: each also as `NAUTILUS_<FLAG>` and as a key of the config file. */
export const DAEMON_OPTIONS: CommandOptions = {
  config: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  host6: { type: 'string' },
  port6: { type: 'string' },
  bootstrap: { type: 'string' },
  'state-dir': { type: 'string' },
  http: { type: 'string' },
  storage: { type: 'string' },
  'read-only': { type: 'boolean' },
  'port-mapping': { type: 'string' },
  'log-level': { type: 'string' },
  token: { type: 'string' },
};

/** Help text of {@link DAEMON_OPTIONS}. */
export const DAEMON_HELP = `Options (flag > NAUTILUS_<FLAG> environment variable > --config file > default):
  --config FILE            JSON config file; keys as \`nautilus config --json\` prints them
                           (env NAUTILUS_CONFIG)
  --host ADDRESS           UDP address of the DHT node (default 0.0.0.0)
  --port PORT              UDP port, 0 for any free one (default 6881)
  --host6 ADDRESS          Also an IPv6 socket (BEP 32), e.g. :: (default none)
  --port6 PORT             Its port (default: the same as --port)
  --bootstrap LIST         mainline (the public routers), none (a private network), or
                           host:port,host:port… (default mainline)
  --state-dir DIR          Routing table, publications and api-token (default
                           $XDG_STATE_HOME/nautilus, else ~/.local/state/nautilus)
  --http HOST:PORT         API and dashboard (default 127.0.0.1:7401); a non-loopback address
                           needs an explicit --token
  --storage URL            memory, redis://host:port or redis-cluster://host:port,… (default memory)
  --read-only              BEP 43 read-only node: queries others, answers nobody
  --port-mapping MODE      auto (NAT-PMP, then UPnP), upnp, natpmp or off (default auto)
  --log-level LEVEL        trace, debug, info, warn, error, fatal or silent (default info)
  --token TOKEN            API bearer token (default: <state-dir>/api-token, made on first start)
`;

/** The effective config of the flags and environment; {@link UsageError} for a bad value. */
export function configOf(args: CommandArgs, io: CliIo): ResolvedConfig {
  try {
    return resolveConfig({ flags: args.values, env: io.env ?? process.env });
  } catch (error) {
    if (isDaemonError(error, 'INVALID_CONFIG')) throw new UsageError(error.message);
    throw error;
  }
}

/** `nautilus start`: runs a node as a daemon until SIGINT/SIGTERM. */
export const startCommand: Command = {
  name: 'start',
  summary: 'Run a DHT node as a daemon with its HTTP API, metrics and dashboard',
  options: DAEMON_OPTIONS,
  help: `Usage: nautilus start [options]

Runs a Mainline DHT node as a long-lived service: JSON logs (pino) on stdout, the HTTP API and
dashboard on --http (bearer token in <state-dir>/api-token). SIGINT or SIGTERM stops it
gracefully (requests in flight finish, state is saved, exit 0); a second signal exits at once.

${DAEMON_HELP}
Examples:
  nautilus start                                   join the public Mainline DHT
  nautilus start --bootstrap none --port 0         a private node, any free UDP port
  nautilus start --bootstrap 127.0.0.1:6881 --state-dir /tmp/n1 --http 127.0.0.1:7402
  NAUTILUS_STORAGE=redis://127.0.0.1:6379 nautilus start --config nautilus.json
`,
  async run(args, io) {
    positionals(args);
    const { config } = configOf(args, io);
    // loaded here: the server, its framework and the node are for this command only
    const { startDaemon } = await import('../../daemon/daemon.js');
    let daemon;
    try {
      daemon = await startDaemon(config);
    } catch (error) {
      if (isDaemonError(error, 'INVALID_CONFIG')) throw new UsageError(error.message);
      throw error;
    }
    if (io.signal !== undefined && !io.signal.aborted) await once(io.signal, 'abort');
    await daemon.close();
    return 0;
  },
};
