// Cosmos DB for NoSQL, serverless, Microsoft Entra ID only (local/key auth disabled). The database and every
// container the code uses are declared here with the partition keys of shared/domain/records (CONTAINERS):
// with Entra ID the app can read and write items but cannot create containers.
param name string
param location string
param tags object
param databaseName string

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    capabilities: [
      {
        name: 'EnableServerless'
      }
    ]
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

// Indexing: the same policies as shared/adapters/cosmos/setup.ts (the code creates them locally; in Azure,
// with Entra ID only, the containers must exist before the app starts). The tests check they agree.

// Tenant app registrations. Credentials live in Key Vault; encrypted token caches and audit trails are not indexed.
resource servicePrincipals 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = {
  parent: database
  name: 'servicePrincipals'
  properties: {
    resource: {
      id: 'servicePrincipals'
      partitionKey: {
        paths: [
          '/id'
        ]
        kind: 'Hash'
        version: 2
      }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/*'
          }
        ]
        excludedPaths: [
          {
            path: '/"_etag"/?'
          }
          {
            path: '/tokenCache/*'
          }
          {
            path: '/credential/*'
          }
          {
            path: '/description/?'
          }
          {
            path: '/audit/*'
          }
        ]
      }
    }
  }
}

// Synced mailboxes (user and shared) with their folder filters and per-folder delta state.
resource emailAccounts 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = {
  parent: database
  name: 'emailAccounts'
  properties: {
    resource: {
      id: 'emailAccounts'
      partitionKey: {
        paths: [
          '/id'
        ]
        kind: 'Hash'
        version: 2
      }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/*'
          }
        ]
        excludedPaths: [
          {
            path: '/"_etag"/?'
          }
          {
            path: '/folderFilter/*'
          }
          {
            path: '/linkingRules/*'
          }
          {
            path: '/syncErrorMessage/?'
          }
        ]
      }
    }
  }
}

// Sync logs expire after 30 days (2,592,000 seconds); an item may set its own shorter `ttl`.
resource syncLogs 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = {
  parent: database
  name: 'syncLogs'
  properties: {
    resource: {
      id: 'syncLogs'
      partitionKey: {
        paths: [
          '/emailAccount'
        ]
        kind: 'Hash'
        version: 2
      }
      defaultTtl: 2592000
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/*'
          }
        ]
        excludedPaths: [
          {
            path: '/"_etag"/?'
          }
          {
            path: '/errorMessage/?'
          }
        ]
      }
    }
  }
}

// Synced messages. Bodies, recipient lists and attachment lists are large and never filtered on: not indexed.
resource communications 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = {
  parent: database
  name: 'communications'
  properties: {
    resource: {
      id: 'communications'
      partitionKey: {
        paths: [
          '/emailAccount'
        ]
        kind: 'Hash'
        version: 2
      }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/*'
          }
        ]
        excludedPaths: [
          {
            path: '/"_etag"/?'
          }
          {
            path: '/content/?'
          }
          {
            path: '/textContent/?'
          }
          {
            path: '/attachments/*'
          }
          {
            path: '/references/?'
          }
          {
            path: '/recipients/?'
          }
          {
            path: '/cc/?'
          }
          {
            path: '/bcc/?'
          }
        ]
      }
    }
  }
}

// Addresses seen in synced mail.
resource contacts 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = {
  parent: database
  name: 'contacts'
  properties: {
    resource: {
      id: 'contacts'
      partitionKey: {
        paths: [
          '/id'
        ]
        kind: 'Hash'
        version: 2
      }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/*'
          }
        ]
        excludedPaths: [
          {
            path: '/"_etag"/?'
          }
        ]
      }
    }
  }
}

output name string = account.name
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
