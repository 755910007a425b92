/**
 * What the API use cases need, built once per process from the composition root's clients (Cosmos
 * repositories on the app's database, the system clock). Tests replace them with
 * `setApiDependenciesForTests({ repositories: createInMemoryRepositories(), clock })`.
 */
import { createCosmosRepositories } from '../adapters/cosmos';
import { getCosmosDatabase } from '../composition-root';
import { systemClock, type Clock } from '../domain/ports/clock';
import type { Repositories } from '../domain/ports/repositories';

export interface ApiDependencies {
  repositories: Repositories;
  clock: Clock;
}

let built: ApiDependencies | undefined;
let override: ApiDependencies | undefined;

export function apiDependencies(): ApiDependencies {
  if (override) return override;
  built ??= {
    repositories: createCosmosRepositories(getCosmosDatabase(), { clock: systemClock }),
    clock: systemClock,
  };
  return built;
}

/** Tests only: use these dependencies (`undefined` goes back to the composition root's). */
export function setApiDependenciesForTests(dependencies: ApiDependencies | undefined): void {
  override = dependencies;
  built = undefined;
}
