import { CONFIG_FIELDS, envName, redactConfig } from '../../daemon/config.js';
import { type Command, positionals, printJson } from '../command.js';
import { configOf, DAEMON_HELP, DAEMON_OPTIONS } from './start.js';

/** `nautilus config`: the effective config of `start` with the same flags, and where each value came from. */
export const configCommand: Command = {
  name: 'config',
  summary: 'Print the effective config of `start` (flags > env > file > defaults)',
  options: { ...DAEMON_OPTIONS, json: { type: 'boolean' } },
  help: `Usage: nautilus config [start options] [--json]

Prints the config \`nautilus start\` would run with these flags, environment and config file,
each value with its source (flag, env, file or default). --json prints it as a config file
(the token masked).

${DAEMON_HELP}
Examples:
  nautilus config --port 7000
  NAUTILUS_LOG_LEVEL=debug nautilus config --config nautilus.json
  nautilus config --json --bootstrap none > nautilus.json
`,
  async run(args, io) {
    positionals(args);
    const { config, sources, file } = configOf(args, io);
    const shown = redactConfig(config);
    if (args.values['json'] === true) {
      printJson(io, shown);
      return 0;
    }
    const width = Math.max(...CONFIG_FIELDS.map((f) => f.key.length));
    for (const field of CONFIG_FIELDS) {
      const source = sources[field.key];
      const from =
        source === 'flag'
          ? `--${field.flag}`
          : source === 'env'
            ? envName(field.flag)
            : source === 'file'
              ? `file ${file ?? ''}`
              : 'default';
      io.out(`${field.key.padEnd(width)}  ${JSON.stringify(shown[field.key])}  (${from})\n`);
    }
    return 0;
  },
};
