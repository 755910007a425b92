/**
 * The Azure deployment (infra/*.bicep, azure.yaml), read as text: no Bicep compiler runs on these machines.
 * The lists come from the code (shared/config.ts, shared/domain/records): removing a container, a queue, a role
 * assignment or an app setting from the templates, or adding one to the code without the templates, fails here.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, SETTING_NAMES } from '../../shared/config';
import { containerDefinition } from '../../shared/adapters/cosmos/setup';
import { CONTAINERS, type ContainerName } from '../../shared/domain/records';
import {
  BicepDeployment,
  bodyOf,
  PLACEHOLDER,
  property,
  topLevelExpressions,
  undeclaredNames,
  walk,
  type BicepScope,
  type ResourceDecl,
  type Value,
} from './bicep';
import { parseSimpleYaml, type YamlMap } from './simple-yaml';

const ROOT = path.resolve(__dirname, '..', '..');
const INFRA = path.join(ROOT, 'infra');
const deployment = new BicepDeployment(ROOT);
/** What `azd up` passes from main.parameters.json (the audience is the API app registration's client id). */
const DEPLOY_PARAMS = {
  environmentName: 'contoso-prod',
  location: 'westeurope',
  apiAuthAudience: '99999999-9999-4999-8999-999999999999',
};
const main = deployment.scope('infra/main.bicep', DEPLOY_PARAMS);

/** Settings the app reads only on a developer machine; in Azure their job is done by the managed identity. */
const LOCAL_ONLY_SETTINGS: Record<string, string> = {
  COSMOS_KEY: 'Cosmos DB is reached with the managed identity (local auth is disabled)',
  AzureWebJobsStorage: 'a connection string: Storage is reached by account name with the managed identity',
  AZURE_TENANT_ID: 'a development service principal on the M365 simulator',
  AZURE_CLIENT_SECRET: 'a development service principal on the M365 simulator',
  AZURE_AUTHORITY_HOST: "the M365 simulator's authority",
  ALLOWED_DEV_HOSTS: 'hosts of the local stand-ins',
};
/** Settings read by the Functions host rather than by shared/config.ts. */
const HOST_SETTINGS = [
  'AzureWebJobsStorage__credential',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
];
/** Settings whose values the deployment takes from parameters with defaults (they must equal the code's). */
const DEFAULTED_SETTINGS = [
  'COSMOS_DATABASE',
  'TOKEN_CACHE_KEY_SECRET_NAME',
  'SYNC_SCHEDULE',
  'SYNC_QUEUE_NAME',
  'SYNC_PAGE_SIZE',
  'SYNC_TIME_BUDGET_SECONDS',
  'SYNC_LEASE_SECONDS',
  'SYNC_MAX_CONCURRENCY_PER_MAILBOX',
  'ATTACHMENTS_CONTAINER',
  'REFRESH_TOKENS_SCHEDULE',
  'VALIDATE_PRINCIPALS_SCHEDULE',
  'CLEANUP_SYNC_LOGS_SCHEDULE',
  'LOG_LEVEL',
];
/** Built-in Azure roles the managed identity needs (ids from Microsoft's built-in roles reference). */
const REQUIRED_ROLES = [
  {
    role: 'Storage Blob Data Owner',
    id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    on: 'Microsoft.Storage/storageAccounts',
    module: 'storage',
  },
  {
    role: 'Storage Queue Data Contributor',
    id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
    on: 'Microsoft.Storage/storageAccounts',
    module: 'storage',
  },
  {
    role: 'Key Vault Secrets Officer',
    id: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
    on: 'Microsoft.KeyVault/vaults',
    module: 'keyVault',
  },
  {
    role: 'Monitoring Metrics Publisher',
    id: '3913510d-42f4-4e42-8a64-420c390055eb',
    on: 'Microsoft.Insights/components',
    module: 'monitoring',
  },
];
const COSMOS_DATA_CONTRIBUTOR = '00000000-0000-0000-0000-000000000002';

interface Located {
  scope: BicepScope;
  decl: ResourceDecl;
}

/** Every resource of the deployment: main.bicep's and its modules'. */
function allResources(scope: BicepScope = main): Located[] {
  const own = [...scope.file.resources.values()].map((decl) => ({ scope, decl }));
  return [...own, ...[...scope.file.modules.keys()].flatMap((m) => allResources(scope.module(m)))];
}

function resourcesOfType(type: string, scope?: BicepScope): Located[] {
  return allResources(scope).filter((r) => r.decl.type === type && !r.decl.existing);
}

function single(type: string, scope?: BicepScope): Located {
  const found = resourcesOfType(type, scope);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]!;
}

/** The evaluated body of a resource (every expression resolved, Azure-only values as placeholders). */
function evaluated(r: Located): { [key: string]: Value } {
  return r.scope.value(bodyOf(r.decl, r.scope.file)) as { [key: string]: Value };
}

function get(value: Value, dotted: string): Value | undefined {
  let current: Value | undefined = value;
  for (const key of dotted.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** The function app's app settings as the deployment sets them. */
function functionAppSettings(): Record<string, string> {
  const site = single('Microsoft.Web/sites');
  const list = get(evaluated(site), 'properties.siteConfig.appSettings') as { name: string; value: Value }[];
  const settings: Record<string, string> = {};
  for (const { name, value } of list) {
    if (name in settings) throw new Error(`app setting ${name} is set twice`);
    if (typeof value !== 'string') throw new Error(`app setting ${name} is not a string (use string(...))`);
    settings[name] = value;
  }
  return settings;
}

function bicepFiles(dir = INFRA): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return bicepFiles(full);
    return entry.name.endsWith('.bicep') ? [path.relative(ROOT, full)] : [];
  });
}

/** Index paths in a stable order (ARM and the SDK do not care about their order). */
function pathsOf(paths: { path: string }[]): string[] {
  return paths.map((p) => p.path).sort();
}

function omit(settings: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(settings).filter(([k]) => !names.includes(k)));
}

describe('the Bicep templates as a compiler would see them', () => {
  it('every file parses and uses only names it declares', () => {
    const files = bicepFiles();
    expect(files).toEqual(expect.arrayContaining(['infra/main.bicep', 'infra/app/function-app.bicep']));
    for (const file of files) {
      expect({ file, undeclared: undeclaredNames(deployment.file(file)) }).toEqual({ file, undeclared: [] });
    }
  });

  it('deploys at subscription scope and every module gets each required parameter', () => {
    expect(main.value(main.file.targetScope!)).toBe('subscription');
    for (const [symbol, decl] of main.file.modules) {
      const child = main.module(symbol);
      const given = property(bodyOf(decl, main.file), 'params');
      const names = given?.kind === 'object' ? given.properties.map((p) => p.key) : [];
      const required = [...child.file.params.values()].filter((p) => !p.defaultValue).map((p) => p.name);
      expect({ module: symbol, missing: required.filter((n) => !names.includes(n)) }).toEqual({
        module: symbol,
        missing: [],
      });
    }
  });

  it('every resource body and output evaluates (no unknown name, function or runtime property)', () => {
    for (const r of allResources()) expect(() => evaluated(r)).not.toThrow();
    const outputs = [main, ...[...main.file.modules.keys()].map((m) => main.module(m))].flatMap((scope) =>
      [...scope.file.outputs.keys()].map((name) => () => scope.output(name)),
    );
    for (const output of outputs) expect(output).not.toThrow();
  });

  it("main.parameters.json passes every required parameter, and its defaults are the template's", () => {
    const parameters = (
      JSON.parse(readFileSync(path.join(INFRA, 'main.parameters.json'), 'utf8')) as {
        parameters: Record<string, { value: unknown }>;
      }
    ).parameters;
    const required = [...main.file.params.values()].filter((p) => !p.defaultValue).map((p) => p.name);
    expect(Object.keys(parameters)).toEqual(expect.arrayContaining(required));
    for (const [name, { value }] of Object.entries(parameters)) {
      const param = main.file.params.get(name);
      expect({ name, declared: Boolean(param) }).toEqual({ name, declared: true });
      const match = /^\$\{([A-Z0-9_]+)(?:=(.*))?\}$/.exec(String(value));
      expect({ name, azdVariable: Boolean(match) }).toEqual({ name, azdVariable: true });
      if (match?.[2] !== undefined) {
        const templateDefault = main.value(param!.defaultValue!);
        expect({ name, default: match[2] }).toEqual({ name, default: `${templateDefault as string | number}` });
      }
    }
  });
});

/** Computed on first use, so a template error fails the tests that need it rather than the whole file. */
function lazy<T>(compute: () => T): () => T {
  let cached: { value: T } | undefined;
  return () => (cached ??= { value: compute() }).value;
}

const appSettings = lazy(functionAppSettings);

describe('the function app', () => {
  it('runs on the Flex Consumption plan, Linux, Node 22, as the user-assigned identity', () => {
    const plan = evaluated(single('Microsoft.Web/serverfarms'));
    expect(plan['sku']).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    expect(get(plan, 'properties.reserved')).toBe(true);

    const site = evaluated(single('Microsoft.Web/sites'));
    const identityId = main.module('identity').output('id') as string;
    expect(site['kind']).toBe('functionapp,linux');
    expect(get(site, 'properties.httpsOnly')).toBe(true);
    expect(site['identity']).toEqual({ type: 'UserAssigned', userAssignedIdentities: { [identityId]: {} } });
    expect(get(site, 'properties.functionAppConfig.runtime')).toEqual({ name: 'node', version: '22' });
    expect(get(site, 'properties.functionAppConfig.scaleAndConcurrency')).toEqual({
      instanceMemoryMB: 2048,
      maximumInstanceCount: 100,
    });
    expect(get(site, 'properties.functionAppConfig.deployment.storage.authentication')).toEqual({
      type: 'UserAssignedIdentity',
      userAssignedIdentityResourceId: identityId,
    });
  });

  it('deploys from a blob container of the storage account, declared in the template', () => {
    const site = evaluated(single('Microsoft.Web/sites'));
    const storage = get(site, 'properties.functionAppConfig.deployment.storage') as Record<string, string>;
    expect(storage['type']).toBe('blobContainer');
    const account = main.module('storage').output('name') as string;
    const match = new RegExp(`^https://${account}\\.blob\\.core\\.windows\\.net/([a-z0-9-]{3,63})$`).exec(
      storage['value']!,
    );
    expect(match).not.toBeNull();
    const containers = resourcesOfType('Microsoft.Storage/storageAccounts/blobServices/containers').map(
      (c) => evaluated(c)['name'],
    );
    expect(containers).toContain(match![1]);
  });

  it('sets every setting the app reads in Azure; only local-development settings are left out', () => {
    for (const name of Object.keys(LOCAL_ONLY_SETTINGS)) expect(SETTING_NAMES).toContain(name);
    const missing = SETTING_NAMES.filter((n) => !(n in LOCAL_ONLY_SETTINGS) && !appSettings()[n]);
    expect(missing).toEqual([]);
    const present = Object.keys(LOCAL_ONLY_SETTINGS).filter((n) => n in appSettings());
    expect(present).toEqual([]);
  });

  it('sets nothing the app and the Functions host do not read', () => {
    const unknown = Object.keys(appSettings()).filter(
      (n) => !(SETTING_NAMES as readonly string[]).includes(n) && !HOST_SETTINGS.includes(n),
    );
    expect(unknown).toEqual([]);
  });

  it('parses with shared/config.ts as identity-based Cosmos DB, Storage and Key Vault', () => {
    const config = loadConfig(appSettings());
    const cosmosAccount = main.module('cosmos').output('name') as string;
    const storageAccount = main.module('storage').output('name') as string;
    const vault = main.module('keyVault').output('name') as string;
    expect(config.cosmos).toEqual({
      endpoint: `https://${cosmosAccount}.documents.azure.com:443/`,
      key: undefined,
      database: 'm365mail',
    });
    expect(config.storage).toEqual({
      kind: 'identity',
      accountName: storageAccount,
      queueServiceUri: `https://${storageAccount}.queue.core.windows.net/`,
      blobServiceUri: `https://${storageAccount}.blob.core.windows.net/`,
      clientId: PLACEHOLDER.identityClientId,
    });
    expect(config.keyVault.url).toBe(`https://${vault}.vault.azure.net/`);
    expect(config.identity).toEqual({
      clientId: PLACEHOLDER.identityClientId,
      tenantId: undefined,
      clientSecret: undefined,
      authorityHost: undefined,
    });
    expect(appSettings()['AzureWebJobsStorage__credential']).toBe('managedidentity');
    expect(appSettings()['AzureWebJobsStorage__clientId']).toBe(PLACEHOLDER.identityClientId);
    expect(appSettings()['APPLICATIONINSIGHTS_AUTHENTICATION_STRING']).toBe(
      `ClientId=${PLACEHOLDER.identityClientId};Authorization=AAD`,
    );
  });

  it('accepts tokens of the deploying tenant for the API app registration by default', () => {
    expect(loadConfig(appSettings()).apiAuth).toEqual({
      audience: DEPLOY_PARAMS.apiAuthAudience,
      issuers: [`https://login.microsoftonline.com/${PLACEHOLDER.tenantId}/v2.0`],
      jwksUri: `https://login.microsoftonline.com/${PLACEHOLDER.tenantId}/discovery/v2.0/keys`,
    });
  });

  it("uses the code's defaults for every tunable setting", () => {
    expect(DEFAULTED_SETTINGS.every((n) => n in appSettings())).toBe(true);
    expect(loadConfig(appSettings())).toEqual(loadConfig(omit(appSettings(), DEFAULTED_SETTINGS)));
  });
});

describe('Cosmos DB', () => {
  const cosmos = main.module('cosmos');

  it('is serverless with local (key) authentication disabled', () => {
    const account = evaluated(single('Microsoft.DocumentDB/databaseAccounts'));
    expect(get(account, 'properties.capabilities')).toEqual(expect.arrayContaining([{ name: 'EnableServerless' }]));
    expect(get(account, 'properties.disableLocalAuth')).toBe(true);
  });

  it("declares every container the code uses, with its partition key, TTL and indexing, in the app's database", () => {
    const database = single('Microsoft.DocumentDB/databaseAccounts/sqlDatabases');
    expect(evaluated(database)['name']).toBe(loadConfig(appSettings()).cosmos.database);
    const declared = new Map<string, Value>();
    for (const container of resourcesOfType('Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers', cosmos)) {
      const body = evaluated(container);
      const parent = container.scope.referencedResource(
        property(bodyOf(container.decl, container.scope.file), 'parent')!,
      );
      expect(parent).toBe(database.decl);
      expect(get(body, 'properties.resource.id')).toBe(body['name']);
      declared.set(body['name'] as string, get(body, 'properties.resource')!);
    }
    expect([...declared.keys()].sort()).toEqual(Object.keys(CONTAINERS).sort());
    for (const [name, spec] of Object.entries(CONTAINERS) as [ContainerName, (typeof CONTAINERS)[ContainerName]][]) {
      const resource = declared.get(name)!;
      expect({ name, partitionKey: get(resource, 'partitionKey') }).toEqual({
        name,
        partitionKey: { paths: [spec.partitionKey], kind: 'Hash', version: 2 },
      });
      const ttl = 'defaultTtlSeconds' in spec ? spec.defaultTtlSeconds : undefined;
      expect({ name, defaultTtl: get(resource, 'defaultTtl') }).toEqual({ name, defaultTtl: ttl });
      const indexing = get(resource, 'indexingPolicy') as { excludedPaths: { path: string }[] } & Record<string, Value>;
      const code = containerDefinition(name).indexingPolicy!;
      expect({ name, ...indexing, excludedPaths: pathsOf(indexing.excludedPaths) }).toEqual({
        name,
        indexingMode: code.indexingMode,
        automatic: code.automatic,
        includedPaths: code.includedPaths,
        excludedPaths: pathsOf(code.excludedPaths ?? []),
      });
    }
    expect(CONTAINERS.syncLogs.defaultTtlSeconds).toBe(30 * 24 * 3600);
  });

  it("grants the app's identity the built-in Data Contributor role on the account", () => {
    const assignments = resourcesOfType('Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments');
    expect(assignments).toHaveLength(1);
    const assignment = assignments[0]!;
    const body = evaluated(assignment);
    const parent = assignment.scope.referencedResource(
      property(bodyOf(assignment.decl, assignment.scope.file), 'parent')!,
    );
    expect(parent.type).toBe('Microsoft.DocumentDB/databaseAccounts');
    const accountId = `/subscriptions/${PLACEHOLDER.subscriptionId}/resourceGroups/${PLACEHOLDER.resourceGroup}/providers/Microsoft.DocumentDB/databaseAccounts/${cosmos.output('name') as string}`;
    expect(body['properties']).toEqual({
      principalId: PLACEHOLDER.identityPrincipalId,
      roleDefinitionId: `${accountId}/sqlRoleDefinitions/${COSMOS_DATA_CONTRIBUTOR}`,
      scope: accountId,
    });
  });
});

describe('Storage', () => {
  const storage = main.module('storage');

  it('disables shared-key access and public blobs', () => {
    const account = evaluated(single('Microsoft.Storage/storageAccounts'));
    expect(get(account, 'properties.allowSharedKeyAccess')).toBe(false);
    expect(get(account, 'properties.allowBlobPublicAccess')).toBe(false);
    expect(get(account, 'properties.minimumTlsVersion')).toBe('TLS1_2');
  });

  it('declares the sync queue, its poison queue and the attachments container the app uses', () => {
    const config = loadConfig(appSettings());
    const queues = resourcesOfType('Microsoft.Storage/storageAccounts/queueServices/queues', storage).map(
      (q) => evaluated(q)['name'],
    );
    expect(queues.sort()).toEqual([config.sync.queueName, `${config.sync.queueName}-poison`].sort());
    const containers = resourcesOfType('Microsoft.Storage/storageAccounts/blobServices/containers', storage).map(
      (c) => evaluated(c)['name'],
    );
    expect(containers).toContain(config.blobs.attachmentsContainer);
    expect(config.sync.queueName).toBe('mailbox-sync');
    expect(config.blobs.attachmentsContainer).toBe('attachments');
  });
});

describe('Key Vault', () => {
  it('uses RBAC authorization with soft delete and purge protection', () => {
    const vault = evaluated(single('Microsoft.KeyVault/vaults'));
    expect(get(vault, 'properties.enableRbacAuthorization')).toBe(true);
    expect(get(vault, 'properties.enableSoftDelete')).toBe(true);
    expect(get(vault, 'properties.enablePurgeProtection')).toBe(true);
    expect(get(vault, 'properties.accessPolicies')).toBeUndefined();
  });
});

describe('role assignments', () => {
  const assignments = lazy(() =>
    resourcesOfType('Microsoft.Authorization/roleAssignments').map((a) => {
      const body = evaluated(a);
      const scopeExpr = property(bodyOf(a.decl, a.scope.file), 'scope');
      const target = scopeExpr ? a.scope.referencedResource(scopeExpr) : undefined;
      return {
        roleId: /([0-9a-f-]{36})$/.exec(get(body, 'properties.roleDefinitionId') as string)?.[1],
        principalId: get(body, 'properties.principalId'),
        principalType: get(body, 'properties.principalType'),
        scopeType: target?.type,
        scopeName: target ? a.scope.value(property(bodyOf(target, a.scope.file), 'name')!) : undefined,
      };
    }),
  );

  it.each(REQUIRED_ROLES)("grants $role to the app's identity on the $on it uses", ({ id, on, module }) => {
    expect(assignments()).toContainEqual({
      roleId: id,
      principalId: PLACEHOLDER.identityPrincipalId,
      principalType: 'ServicePrincipal',
      scopeType: on,
      scopeName: main.module(module).output(module === 'monitoring' ? 'applicationInsightsName' : 'name'),
    });
  });

  it('grants nothing else (least privilege)', () => {
    expect(
      assignments()
        .map((a) => a.roleId)
        .sort(),
    ).toEqual(REQUIRED_ROLES.map((r) => r.id).sort());
  });
});

describe('no secret in the templates', () => {
  const files = [...bicepFiles(), 'infra/main.parameters.json', 'infra/abbreviations.json', 'azure.yaml'];

  it('no key, connection string, SAS or private key is written in any file', () => {
    const patterns = [
      /AccountKey=/i,
      /DefaultEndpointsProtocol=/i,
      /SharedAccessSignature/i,
      /SharedAccessKey/i,
      /InstrumentationKey=/i,
      /-----BEGIN/,
      /\bsig=[A-Za-z0-9%]{20,}/,
    ];
    for (const file of files) {
      const text = readFileSync(path.join(ROOT, file), 'utf8');
      for (const pattern of patterns)
        expect({ file, found: pattern.exec(text)?.[0] }).toEqual({ file, found: undefined });
    }
    for (const file of bicepFiles()) {
      const keyLike = deployment.file(file).stringLiterals.filter((l) => /^[A-Za-z0-9+/]{40,}={0,2}$/.test(l.value));
      expect({ file, keyLike }).toEqual({ file, keyLike: [] });
    }
  });

  it('no template reads keys (list*() functions), takes a secure parameter or outputs a secret', () => {
    for (const file of bicepFiles().map((f) => deployment.file(f))) {
      const calls: string[] = [];
      for (const top of topLevelExpressions(file)) {
        walk(top, (e) => {
          const callee = e.kind === 'call' ? e.callee : undefined;
          const name = callee?.kind === 'ident' || callee?.kind === 'member' ? callee.name : undefined;
          if (name && /^list/i.test(name)) calls.push(`${name} (line ${e.line})`);
        });
      }
      const secure = [...file.params.values()].filter((p) =>
        p.decorators.some(
          (d) =>
            d.kind === 'call' &&
            (d.callee.kind === 'ident' || d.callee.kind === 'member') &&
            d.callee.name === 'secure',
        ),
      );
      const secretOutputs = [...file.outputs.keys()].filter((o) =>
        /key|secret|password|connectionstring/i.test(o.replace(/key_?vault/i, '')),
      );
      expect({ file: file.path, calls, secure: secure.map((p) => p.name), secretOutputs }).toEqual({
        file: file.path,
        calls: [],
        secure: [],
        secretOutputs: [],
      });
    }
  });

  it('every data service has local (key) authentication turned off', () => {
    expect(get(evaluated(single('Microsoft.Insights/components')), 'properties.DisableLocalAuth')).toBe(true);
    expect(get(evaluated(single('Microsoft.DocumentDB/databaseAccounts')), 'properties.disableLocalAuth')).toBe(true);
    expect(get(evaluated(single('Microsoft.Storage/storageAccounts')), 'properties.allowSharedKeyAccess')).toBe(false);
  });
});

describe('Azure Developer CLI conventions', () => {
  const abbreviations = JSON.parse(readFileSync(path.join(INFRA, 'abbreviations.json'), 'utf8')) as Record<
    string,
    string
  >;
  const resourceToken = () => main.value(main.file.vars.get('resourceToken')!) as string;

  it('names every resource from abbreviations.json and the resource token, and tags it azd-env-name', () => {
    expect(resourceToken()).toMatch(/^[a-z0-9]{13}$/);
    const prefixes = Object.values(abbreviations);
    const tracked = allResources().filter(
      (r) =>
        !r.decl.existing &&
        r.decl.type.split('/').length === 2 &&
        r.decl.type !== 'Microsoft.Authorization/roleAssignments',
    );
    expect(tracked.map((r) => r.decl.type).sort()).toEqual(
      [
        'Microsoft.DocumentDB/databaseAccounts',
        'Microsoft.Insights/components',
        'Microsoft.KeyVault/vaults',
        'Microsoft.ManagedIdentity/userAssignedIdentities',
        'Microsoft.OperationalInsights/workspaces',
        'Microsoft.Resources/resourceGroups',
        'Microsoft.Storage/storageAccounts',
        'Microsoft.Web/serverfarms',
        'Microsoft.Web/sites',
      ].sort(),
    );
    for (const r of tracked) {
      const body = evaluated(r);
      const name = body['name'] as string;
      const suffix =
        r.decl.type === 'Microsoft.Resources/resourceGroups' ? DEPLOY_PARAMS.environmentName : resourceToken();
      expect({ type: r.decl.type, named: prefixes.some((p) => name === `${p}${suffix}`) }).toEqual({
        type: r.decl.type,
        named: true,
      });
      expect({ type: r.decl.type, env: get(body, 'tags.azd-env-name') }).toEqual({
        type: r.decl.type,
        env: DEPLOY_PARAMS.environmentName,
      });
    }
  });

  it('outputs are UPPER_SNAKE_CASE and include what azd and the docs use', () => {
    const outputs = [...main.file.outputs.keys()];
    expect(outputs.filter((o) => !/^[A-Z][A-Z0-9_]*$/.test(o))).toEqual([]);
    expect(outputs).toEqual(
      expect.arrayContaining([
        'AZURE_LOCATION',
        'AZURE_TENANT_ID',
        'AZURE_RESOURCE_GROUP',
        'API_BASE_URL',
        'MANAGED_IDENTITY_CLIENT_ID',
        'MANAGED_IDENTITY_PRINCIPAL_ID',
      ]),
    );
    expect(main.output('API_BASE_URL')).toBe(`https://func-${resourceToken()}.azurewebsites.net/api`);
  });

  it('azure.yaml deploys the service the function app is tagged with, through the staging hook', () => {
    const yaml = parseSimpleYaml(readFileSync(path.join(ROOT, 'azure.yaml'), 'utf8'));
    const services = yaml['services'] as YamlMap;
    const site = evaluated(single('Microsoft.Web/sites'));
    expect(Object.keys(services)).toEqual([get(site, 'tags.azd-service-name')]);
    const api = services[Object.keys(services)[0]!] as YamlMap;
    expect({ host: api['host'], language: api['language'], project: api['project'] }).toEqual({
      host: 'function',
      language: 'ts',
      project: '.',
    });
    expect(yaml['infra']).toEqual({ provider: 'bicep', path: 'infra', module: 'main' });
    const hook = ((api['hooks'] as YamlMap)['prepackage'] as YamlMap)['posix'] as YamlMap;
    const script = /^node (\S+)$/.exec(hook['run'] as string)?.[1];
    expect(script && existsSync(path.join(ROOT, script))).toBe(true);
    expect(readFileSync(path.join(ROOT, script!), 'utf8')).toContain(`'.local', 'azd-package'`);
    expect(api['dist']).toBe('.local/azd-package');
  });
});
