/**
 * Entry point of a child process running the local functions host (started by `startHostProcess` in
 * `./functions-host-process.ts`). Options come as JSON in `FUNCTIONS_HOST_OPTIONS` (`FunctionsHostOptions` without
 * `logSink`); app settings are the process environment. Log lines go to stdout; prints `LOAD_ERRORS [...]` when a
 * module failed to load, `FUNCTIONS [...]`, then `READY <url>` once listening. SIGTERM stops it gracefully.
 */
import { startFunctionsHost, type FunctionsHostOptions } from '../../dev/functions-host';

async function main(): Promise<void> {
  const options = JSON.parse(process.env['FUNCTIONS_HOST_OPTIONS'] ?? '{}') as Omit<FunctionsHostOptions, 'logSink'>;
  const host = await startFunctionsHost({
    port: 0,
    ...options,
    logSink: (line) => process.stdout.write(`${line}\n`),
  });
  if (host.loadErrors.length > 0) process.stdout.write(`LOAD_ERRORS ${JSON.stringify(host.loadErrors)}\n`);
  process.stdout.write(`FUNCTIONS ${JSON.stringify(host.functions.map((f) => f.name))}\n`);
  process.stdout.write(`READY ${host.url}\n`);
  process.once('SIGTERM', () => {
    void host.stop().then(() => process.exit(0));
  });
}

void main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
