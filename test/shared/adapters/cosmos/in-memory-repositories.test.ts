import { createInMemoryRepositories } from '../../../support/in-memory-repositories';
import { newServicePrincipal } from './fixtures';
import { repositoryContract } from './repository-contract';

// The fakes other engineers' unit tests use must behave like the Cosmos adapters: same contract.
describe('in-memory repositories', () => {
  repositoryContract('in-memory', (clock) => Promise.resolve(createInMemoryRepositories({ clock })));
});

describe('in-memory repositories under fake timers', () => {
  afterEach(() => jest.useRealTimers());

  it('never waits on a timer, so tests with fake timers do not hang', async () => {
    jest.useFakeTimers();
    const repos = createInMemoryRepositories();
    await repos.servicePrincipals.create(newServicePrincipal('Contoso'));
    await Promise.all(
      [1, 2, 3].map((n) => repos.servicePrincipals.update('Contoso', (sp) => ({ ...sp, scopes: `s${n}` }))),
    );
    expect((await repos.servicePrincipals.get('Contoso'))?.scopes).toMatch(/^s[123]$/);
  });
});
