// m365-mail-sync: one resource group with a Function App (Flex Consumption), Storage, Cosmos DB (serverless),
// Key Vault and Application Insights. Every connection uses the function app's user-assigned managed identity:
// no key, connection string or secret is written into app settings.
//
//   azd up                                   (uses main.parameters.json)
//   az deployment sub create --location <region> --template-file infra/main.bicep \
//     --parameters environmentName=<name> location=<region> apiAuthAudience=<API app client id>
//
// The tests in test/infra read these files as text (no Bicep compiler runs here): keep expressions simple.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; names every resource (with a hash) and tags them azd-env-name.')
param environmentName string

@minLength(1)
@description('Region for every resource. It must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@minLength(1)
@description('Audience (aud) of the tokens the portal sends: the Application (client) ID of the API app registration (docs/deploy.md).')
param apiAuthAudience string

@description('Comma-separated token issuers the API accepts. Default: v2.0 tokens of the deploying tenant.')
param apiAuthIssuers string = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'

@description('JWKS URL of the token signing keys. Default: the deploying tenant\'s keys.')
param apiAuthJwksUri string = '${environment().authentication.loginEndpoint}${tenant().tenantId}/discovery/v2.0/keys'

@description('Comma-separated browser origins allowed to call the API (CORS), e.g. the portal\'s URL. Empty: none.')
param corsAllowedOrigins string = ''

// Settings with the same defaults as shared/config.ts (the tests check they agree).
@description('NCRONTAB (six fields) of the sync fan-out timer.')
param syncSchedule string = '0 */5 * * * *'

@description('Storage queue of per-mailbox sync work (its poison queue is <name>-poison).')
param syncQueueName string = 'mailbox-sync'

@minValue(1)
@maxValue(1000)
param syncPageSize int = 100

@minValue(10)
@maxValue(3600)
param syncTimeBudgetSeconds int = 480

@minValue(30)
@maxValue(7200)
param syncLeaseSeconds int = 600

@minValue(1)
@maxValue(4)
@description('Concurrent Graph requests per mailbox (Outlook allows 4 per app and mailbox).')
param syncMaxConcurrencyPerMailbox int = 4

@description('Blob container of synced attachments.')
param attachmentsContainerName string = 'attachments'

param refreshTokensSchedule string = '0 0 * * * *'

param validatePrincipalsSchedule string = '0 30 3 * * *'

param cleanupSyncLogsSchedule string = '0 15 4 * * *'

@description('Cosmos DB database of every container.')
param cosmosDatabaseName string = 'm365mail'

@description('Key Vault secret holding the key that encrypts the MSAL token caches.')
param tokenCacheKeySecretName string = 'token-cache-key'

@allowed([
  'debug'
  'info'
  'warn'
  'error'
])
param logLevel string = 'info'

@allowed([
  512
  2048
  4096
])
@description('Memory of each Flex Consumption instance.')
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
@description('Most instances the app scales out to.')
param maximumInstanceCount int = 100

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'
// Flex Consumption reads the app package from this blob container (the azd convention for its name).
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2021-04-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    attachmentsContainerName: attachmentsContainerName
    syncQueueName: syncQueueName
  }
}

module cosmos 'app/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    name: '${abbrs.documentDBDatabaseAccounts}${resourceToken}'
    location: location
    tags: tags
    databaseName: cosmosDatabaseName
  }
}

module keyVault 'app/key-vault.bicep' = {
  name: 'key-vault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
  }
}

// Every data-plane role the app's identity needs, granted before the function app starts.
module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    cosmosAccountName: cosmos.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module functionApp 'app/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  dependsOn: [
    rbac
  ]
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmos.outputs.databaseName
    keyVaultUrl: keyVault.outputs.uri
    apiAuthAudience: apiAuthAudience
    apiAuthIssuers: apiAuthIssuers
    apiAuthJwksUri: apiAuthJwksUri
    corsAllowedOrigins: empty(corsAllowedOrigins) ? [] : split(corsAllowedOrigins, ',')
    syncSchedule: syncSchedule
    syncQueueName: storage.outputs.syncQueueName
    syncPageSize: syncPageSize
    syncTimeBudgetSeconds: syncTimeBudgetSeconds
    syncLeaseSeconds: syncLeaseSeconds
    syncMaxConcurrencyPerMailbox: syncMaxConcurrencyPerMailbox
    attachmentsContainerName: storage.outputs.attachmentsContainerName
    refreshTokensSchedule: refreshTokensSchedule
    validatePrincipalsSchedule: validatePrincipalsSchedule
    cleanupSyncLogsSchedule: cleanupSyncLogsSchedule
    tokenCacheKeySecretName: tokenCacheKeySecretName
    logLevel: logLevel
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
  }
}

// azd stores these in .azure/<environment>/.env (upper snake case by convention).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.uri
output API_BASE_URL string = '${functionApp.outputs.uri}/api'
output MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output COSMOS_ACCOUNT_NAME string = cosmos.outputs.name
output COSMOS_DATABASE string = cosmos.outputs.databaseName
output KEY_VAULT_URL string = keyVault.outputs.uri
output KEY_VAULT_NAME string = keyVault.outputs.name
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output SYNC_QUEUE_NAME string = storage.outputs.syncQueueName
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output LOG_ANALYTICS_WORKSPACE_NAME string = monitoring.outputs.logAnalyticsName
