/**
 * The local functions host in a process of its own (the e2e tests kill it with SIGKILL to crash a worker).
 * Options come as JSON in `E2E_HOST_OPTIONS` (`modules`, `queues`, `queueLeaseMs`); app settings are the
 * process environment. Prints `READY <url>` once listening; SIGTERM stops it gracefully.
 */
import { startFunctionsHost, type FunctionsHostOptions } from '../../../../dev/functions-host';

async function main(): Promise<void> {
  const options = JSON.parse(process.env['E2E_HOST_OPTIONS'] ?? '{}') as Pick<
    FunctionsHostOptions,
    'modules' | 'queues' | 'queueLeaseMs'
  >;
  const host = await startFunctionsHost({
    port: 0,
    timers: false,
    logLevel: 'info',
    stopGraceMs: 2000,
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
