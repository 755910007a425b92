/**
 * The M365 simulator: one HTTPS port standing in for Entra ID (tokens, discovery, JWKS), Microsoft Graph
 * (users, mailbox settings, and the mail module's routes) and Key Vault (secrets), with Outlook throttling,
 * seeded fault injection, counters and a control API. See `contract.ts` for the public surface.
 *
 *   const sim = await startSimulator({ tls: { cert, key }, seed });
 *   ... sim.url ...
 *   await sim.stop();
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { MailModule, MailModuleDeps, SimRouter, SimulatorOptions, StartedSimulator } from './contract';
import { registerControlRoutes, validateSeed, type Control } from './control';
import { Directory } from './directory';
import { registerEntraRoutes } from './entra/routes';
import { SigningKeys, TokenValidator } from './entra/tokens';
import { GraphGate } from './graph-auth';
import { registerKeyVaultRoutes } from './keyvault';
import { Counters, Faults, Limits } from './limits';
import { registerMailRoutes } from './mail';
import { CoreRouter } from './router';
import { registerUserRoutes } from './users';

export type { SimulatorOptions, StartedSimulator } from './contract';

/** The contract's options plus test hooks (additive). */
export interface CoreSimulatorOptions extends SimulatorOptions {
  /** Registers extra routes on the simulator's router after the built-in ones (tests: slow or streaming routes). */
  extraRoutes?: (router: SimRouter) => void;
}

export async function startSimulator(options: CoreSimulatorOptions): Promise<StartedSimulator> {
  const seed = options.seed === undefined || options.seed === null ? undefined : validateSeed(options.seed);
  let base = '';
  const baseUrl = (): string => base;
  const now = (): Date => new Date();

  const keys = await SigningKeys.generate();
  const directory = new Directory(now);
  const counters = new Counters();
  const limits = new Limits(counters);
  const faults = new Faults(counters);
  const tokens = new TokenValidator(keys, baseUrl, (tid) => directory.findTenant(tid)?.id === tid);
  const gate = new GraphGate(directory, tokens, baseUrl, () => Math.floor(Date.now() / 1000));
  const router = new CoreRouter({ baseUrl, now, gate, limits, faults, counters });

  registerEntraRoutes({ router, directory, keys, counters, baseUrl, now });
  // The Key Vault challenge names the vault tenant, which the control module owns (created just below).
  const controlRef: { current?: Control } = {};
  const keyVault = registerKeyVaultRoutes({
    router,
    tokens,
    baseUrl,
    now,
    vaultTenantId: () => controlRef.current?.vaultTenantId(),
  });
  registerUserRoutes(router, directory);
  const mailRef: { current?: MailModule } = {};
  const control = registerControlRoutes({
    router,
    directory,
    keys,
    counters,
    faults,
    limits,
    keyVault,
    mail: () => mailRef.current,
    baseUrl,
    now,
    ...(seed ? { startSeed: seed } : {}),
  });
  controlRef.current = control;
  const mailDeps: MailModuleDeps = {
    router,
    directory: {
      getUser: (tenantId: string, idOrUpn: string) => directory.getUser(tenantId, idOrUpn),
      findByAddress: (address: string) => directory.findByAddress(address),
    },
    baseUrl,
    now,
  };
  const mail: MailModule = registerMailRoutes(mailDeps);
  mailRef.current = mail;
  options.extraRoutes?.(router);

  const server: Server = createServer(
    { cert: options.tls.cert, key: options.tls.key, keepAlive: true, keepAliveTimeout: 30_000 },
    (req, res) => {
      router.handleHttp(req, res).catch((error: unknown) => {
        console.error('[m365-simulator] request failed:', error);
        res.destroy();
      });
    },
  );
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  base = `https://${urlHost(host)}:${port}`;

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await mail.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
    })();
    return stopped;
  };

  try {
    if (seed) control.applySeed(seed);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: base, port, stop };
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
