// The function app's user-assigned managed identity: the only principal that reaches Storage, Cosmos DB,
// Key Vault and Application Insights (see rbac.bicep). Its client id is AZURE_CLIENT_ID in app settings.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
