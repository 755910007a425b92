// The Function App on the Flex Consumption plan (Linux, Node 22) running as the user-assigned identity.
// Its app settings are every setting shared/config.ts reads in Azure; none holds a key or a secret:
// Cosmos by endpoint, Storage by account name, Key Vault by URL, all with the managed identity.
param name string
param planName string
param location string
param tags object

@description('Resource id of the user-assigned managed identity.')
param identityId string

@description('Client id of the user-assigned managed identity (AZURE_CLIENT_ID).')
param identityClientId string

param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param cosmosEndpoint string
param cosmosDatabaseName string
param keyVaultUrl string
param apiAuthAudience string
param apiAuthIssuers string
param apiAuthJwksUri string
param corsAllowedOrigins array
param syncSchedule string
param syncQueueName string
param syncPageSize int
param syncTimeBudgetSeconds int
param syncLeaseSeconds int
param syncMaxConcurrencyPerMailbox int
param attachmentsContainerName string
param refreshTokensSchedule string
param validatePrincipalsSchedule string
param cleanupSyncLogsSchedule string
param tokenCacheKeySecretName string
param logLevel string
param instanceMemoryMB int
param maximumInstanceCount int

@description('Must match the service name in azure.yaml: azd finds the app by this tag.')
param serviceName string = 'api'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      cors: {
        allowedOrigins: corsAllowedOrigins
      }
      appSettings: [
        // Functions host storage (triggers, timers' leases): identity-based, no connection string.
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storage.name
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: storage.properties.primaryEndpoints.blob
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: storage.properties.primaryEndpoints.queue
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        // Telemetry with Entra ID (local auth is disabled on the Application Insights resource).
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: applicationInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        // DefaultAzureCredential picks the user-assigned identity by this client id.
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        {
          name: 'COSMOS_ENDPOINT'
          value: cosmosEndpoint
        }
        {
          name: 'COSMOS_DATABASE'
          value: cosmosDatabaseName
        }
        {
          name: 'KEY_VAULT_URL'
          value: keyVaultUrl
        }
        {
          name: 'TOKEN_CACHE_KEY_SECRET_NAME'
          value: tokenCacheKeySecretName
        }
        {
          name: 'API_AUTH_AUDIENCE'
          value: apiAuthAudience
        }
        {
          name: 'API_AUTH_ISSUERS'
          value: apiAuthIssuers
        }
        {
          name: 'API_AUTH_JWKS_URI'
          value: apiAuthJwksUri
        }
        // Read by the timer and queue triggers as %SYNC_SCHEDULE% etc.: they must be app settings.
        {
          name: 'SYNC_SCHEDULE'
          value: syncSchedule
        }
        {
          name: 'SYNC_QUEUE_NAME'
          value: syncQueueName
        }
        {
          name: 'SYNC_PAGE_SIZE'
          value: string(syncPageSize)
        }
        {
          name: 'SYNC_TIME_BUDGET_SECONDS'
          value: string(syncTimeBudgetSeconds)
        }
        {
          name: 'SYNC_LEASE_SECONDS'
          value: string(syncLeaseSeconds)
        }
        {
          name: 'SYNC_MAX_CONCURRENCY_PER_MAILBOX'
          value: string(syncMaxConcurrencyPerMailbox)
        }
        {
          name: 'ATTACHMENTS_CONTAINER'
          value: attachmentsContainerName
        }
        {
          name: 'REFRESH_TOKENS_SCHEDULE'
          value: refreshTokensSchedule
        }
        {
          name: 'VALIDATE_PRINCIPALS_SCHEDULE'
          value: validatePrincipalsSchedule
        }
        {
          name: 'CLEANUP_SYNC_LOGS_SCHEDULE'
          value: cleanupSyncLogsSchedule
        }
        {
          name: 'LOG_LEVEL'
          value: logLevel
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// No FTP / basic-auth publishing: azd and the Azure CLI deploy with Entra ID tokens.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output uri string = 'https://${site.properties.defaultHostName}'
