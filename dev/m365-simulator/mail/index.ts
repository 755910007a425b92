/**
 * The simulator's mail module: Graph mail routes (folders, messages, delta, attachments, MIME, send/reply),
 * subscriptions and change notifications, `$batch`, and the mail control API. See `contract.ts` for the seam
 * with the core and `store.ts` for how 100,000-message mailboxes stay small in memory.
 */
import type { MailboxSeed, MailModule, MailModuleDeps, RegisterMailRoutes, SimUser } from '../contract';
import { registerBatchRoute } from './batch';
import { registerControlRoutes, validateMailboxSeed } from './control-routes';
import type { MailRouteServices } from './routes-common';
import { registerReadRoutes } from './routes-read';
import { registerWriteRoutes } from './routes-write';
import { MailStore } from './store';
import { SubscriptionService } from './subscriptions';

export const registerMailRoutes: RegisterMailRoutes = (deps: MailModuleDeps): MailModule => {
  const store = new MailStore(deps.now);
  const services: MailRouteServices = { store, now: deps.now };
  const subscriptions = new SubscriptionService(store, deps);
  registerReadRoutes(deps.router, services);
  registerWriteRoutes(deps.router, services, deps);
  subscriptions.register(deps.router);
  registerBatchRoute(deps.router);
  registerControlRoutes(deps.router, services, deps);
  return {
    seedMailbox(user: SimUser, seed: MailboxSeed): void {
      store.mailbox(user).seedMailbox(validateMailboxSeed(seed));
    },
    reset(): void {
      subscriptions.reset();
      store.reset();
    },
    close(): Promise<void> {
      return subscriptions.close();
    },
  };
};

export { MailStore } from './store';
