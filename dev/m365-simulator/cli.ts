/**
 * Standalone simulator: `npm run sim -- [--port 8443] [--host 127.0.0.1] [--seed seed.json]`
 * (runs `node dist/dev/m365-simulator/cli.js`). Uses the local certificate in `.local/tls/`, prints its URL
 * and stops on SIGINT / SIGTERM.
 */
import fs from 'node:fs';
import { readTls } from '../local-stack/stack';
import type { StartedSimulator } from './contract';
import { startSimulator } from './server';

export interface CliOptions {
  port: number;
  host: string;
  seedFile?: string;
  help: boolean;
}

export const USAGE = 'Usage: m365-simulator [--port N] [--host HOST] [--seed seed.json]';

/** Parses the command line (`--name value` or `--name=value`); throws an Error with the usage on bad input. */
export function parseCliArgs(argv: readonly string[]): CliOptions {
  const options: CliOptions = { port: 0, host: '127.0.0.1', help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') {
      options.help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const takeValue = (): string => {
      if (eq >= 0) return arg.slice(eq + 1);
      const value = argv[++i];
      if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value. ${USAGE}`);
      return value;
    };
    switch (name) {
      case '--port': {
        const raw = takeValue();
        const port = Number(raw);
        if (!/^\d+$/.test(raw) || port > 65535) throw new Error(`--port must be 0-65535, got '${raw}'. ${USAGE}`);
        options.port = port;
        break;
      }
      case '--host':
        options.host = takeValue();
        break;
      case '--seed':
        options.seedFile = takeValue();
        break;
      default:
        throw new Error(`Unknown argument '${arg}'. ${USAGE}`);
    }
  }
  return options;
}

export function readSeedFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read seed file ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`Seed file ${file} is not JSON: ${(error as Error).message}`, { cause: error });
  }
}

export async function runCli(
  argv: readonly string[],
  print: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<StartedSimulator | undefined> {
  const options = parseCliArgs(argv);
  if (options.help) {
    print(USAGE);
    return undefined;
  }
  const tls = readTls();
  const seed = options.seedFile === undefined ? undefined : readSeedFile(options.seedFile);
  const sim = await startSimulator({
    port: options.port,
    host: options.host,
    tls: { cert: tls.cert, key: tls.key },
    ...(seed === undefined ? {} : { seed }),
  });
  print(`M365 simulator listening on ${sim.url}`);
  print(`  Entra ID:  ${sim.url}/{tenant}/oauth2/v2.0/token   Graph: ${sim.url}/v1.0   Key Vault: ${sim.url}/secrets`);
  print(`  Control:   ${sim.url}/_sim/...   (Ctrl+C to stop)`);
  return sim;
}

if (require.main === module) {
  runCli(process.argv.slice(2))
    .then((sim) => {
      if (!sim) return;
      const shutdown = (signal: string): void => {
        process.stdout.write(`Stopping M365 simulator (${signal})\n`);
        sim.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
    })
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    });
}
