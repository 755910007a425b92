/** Runs the local functions host in its own process (tests): prints `READY <url>`, stops on SIGTERM. */
import { startFunctionsHost } from '../../../../dev/functions-host';

async function main(): Promise<void> {
  const modules = process.argv.slice(2);
  const host = await startFunctionsHost({ port: 0, modules, logLevel: 'warn' });
  process.stdout.write(`READY ${host.url}\n`);
  process.once('SIGTERM', () => {
    void host.stop().then(() => process.exit(0));
  });
}

void main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
