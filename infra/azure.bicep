// The Azure side of the Elevation bot, deployed by teamsapp.yml (arm/deploy) with the values of
// infra/azure.parameters.json:
// - a user-assigned managed identity: the bot's Bot Framework identity (BOT_TYPE=UserAssignedMSI,
//   no bot secret, as current Toolkit templates do), and how the Web App reaches the store and the
//   Key Vault;
// - a Linux Web App on Node 22 LTS: HTTPS only, TLS 1.2+, FTP off, always on, /healthz checked;
// - a storage account (Table service) with shared keys off: the identity holds "Storage Table Data
//   Contributor", the bot gets only AZURE_STORAGE_ACCOUNT_URL;
// - a Key Vault (RBAC) with the secrets that remain (SSO client secret, TOKEN_CACHE_KEY), read by
//   App Service through Key Vault references, the identity holding "Key Vault Secrets User";
// - Application Insights on a Log Analytics workspace: App Service's Node auto-instrumentation and
//   the bot's console log lines (AppServiceConsoleLogs), so a correlation id is one query away;
// - the Azure Bot registration with the Teams channel.
// The deploying account needs Owner (or Contributor and User Access Administrator) on the
// resource group: the template assigns roles.
// Checked without a Bicep compiler by test/unit/azure-bicep.test.ts; where one is available,
// `az bicep build --file infra/azure.bicep` compiles it.

@minLength(4)
@maxLength(30)
@description('Prefix of every resource name (the app name plus APP_NAME_SUFFIX).')
param resourceBaseName string

@description('Azure region of every resource except the (global) Azure Bot.')
param location string = resourceGroup().location

@description('App Service plan size. B1 or larger: "always on" keeps proactive notifications timely.')
param webAppSku string = 'B1'

@maxLength(42)
@description('Name shown for the bot in the Azure portal.')
param botDisplayName string

@description('Pricing tier of the Azure Bot resource (F0 is free; the Teams channel is free).')
param botServiceSku string = 'F0'

@description('Client id of the SSO app (AAD_APP_CLIENT_ID).')
param aadAppClientId string

@secure()
@description('Client secret of the SSO app, used for the on-behalf-of exchange (SECRET_AAD_APP_CLIENT_SECRET); kept in the Key Vault.')
param aadAppClientSecret string

@description('Tenant of the SSO app (AAD_APP_TENANT_ID).')
param aadAppTenantId string

param aadAppOauthAuthorityHost string = 'https://login.microsoftonline.com'

@secure()
@description('32 random bytes (base64 or hex) that encrypt the sign-ins and token cache kept in Table storage (SECRET_TOKEN_CACHE_KEY); kept in the Key Vault.')
param tokenCacheKey string

@description('The optional settings set in env/.env.<environment> (ALLOWED_TENANT_IDS, BOT_ADMIN_IDS, ...), as base64 of a JSON object: written by scripts/toolkit-env.js app-settings, since the Toolkit refuses empty placeholders.')
param optionalAppSettings string = ''

@description('Days the Log Analytics workspace keeps the logs (30 to 730).')
param logRetentionDays int = 30

var optionalSettings = empty(optionalAppSettings) ? {} : json(base64ToString(optionalAppSettings))
var uniqueSuffix = uniqueString(resourceGroup().id)
var webAppName = '${resourceBaseName}-${uniqueSuffix}'
var botServiceName = '${resourceBaseName}-${uniqueSuffix}'
var storageAccountName = 'elev${uniqueSuffix}'
var keyVaultName = 'elevkv${uniqueSuffix}'

// Built-in role definition ids (the same in every tenant).
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

// The bot's identity: Bot Framework (msaAppType UserAssignedMSI), Table storage, Key Vault.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: resourceBaseName
  location: location
}

resource serverfarm 'Microsoft.Web/serverfarms@2022-09-01' = {
  name: resourceBaseName
  location: location
  kind: 'linux'
  sku: {
    name: webAppSku
  }
  properties: {
    reserved: true // Linux
  }
}

resource webApp 'Microsoft.Web/sites@2022-09-01' = {
  name: webAppName
  location: location
  kind: 'app,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: serverfarm.id
    httpsOnly: true
    // Key Vault references are resolved with the bot's identity (there is no system identity).
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      linuxFxVersion: 'NODE|22-lts'
      appCommandLine: 'npm start'
      alwaysOn: true
      healthCheckPath: '/healthz'
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      http20Enabled: true
    }
  }
}

// FTP and Web Deploy with user name and password, off: deployments use Entra tokens.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2022-09-01' = {
  parent: webApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

// Audit trail, requests, subscriptions and conversation references (STORAGE=azure-table).
// Shared keys are off: only Entra identities with a data role can read or write.
resource storage 'Microsoft.Storage/storageAccounts@2023-01-01' = {
  name: storageAccountName
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    supportsHttpsTrafficOnly: true
  }
}

resource storageRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The secrets that remain. Written here by the deployment (control plane); read by App Service
// with the identity through Key Vault references.
resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
  }
}

resource ssoClientSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'aad-app-client-secret'
  properties: {
    value: aadAppClientSecret
  }
}

resource tokenCacheKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'token-cache-key'
  properties: {
    value: tokenCacheKey
  }
}

resource keyVaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, identity.id, keyVaultSecretsUser)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Logs and telemetry: one workspace for Application Insights and the App Service log categories.
resource workspace 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: resourceBaseName
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: resourceBaseName
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'Node.JS'
    WorkspaceResourceId: workspace.id
  }
}

// The bot writes one JSON line per event to stdout, each with its correlation id: in the workspace
// as AppServiceConsoleLogs (query: AppServiceConsoleLogs | where ResultDescription has "<id>").
resource webAppLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs-to-workspace'
  scope: webApp
  properties: {
    workspaceId: workspace.id
    logs: [
      {
        category: 'AppServiceConsoleLogs'
        enabled: true
      }
      {
        category: 'AppServiceHTTPLogs'
        enabled: true
      }
      {
        category: 'AppServicePlatformLogs'
        enabled: true
      }
    ]
  }
}

// The bot's settings (names as in src/config.ts). Kept in a child resource so they can use the
// Web App's host name. NODE_ENV is deliberately not "production": the build on App Service
// (SCM_DO_BUILD_DURING_DEPLOYMENT) needs the devDependencies (TypeScript). No account key and no
// secret value appear here: the two secrets are Key Vault references.
resource webAppSettings 'Microsoft.Web/sites/config@2022-09-01' = {
  parent: webApp
  name: 'appsettings'
  // The optional settings first: the ones below always win.
  properties: union(optionalSettings, {
    SCM_DO_BUILD_DURING_DEPLOYMENT: 'true'
    BOT_ID: identity.properties.clientId
    BOT_TYPE: 'UserAssignedMSI'
    BOT_TENANT_ID: identity.properties.tenantId
    BOT_DOMAIN: webApp.properties.defaultHostName
    AAD_APP_CLIENT_ID: aadAppClientId
    AAD_APP_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${ssoClientSecret.properties.secretUri})'
    AAD_APP_TENANT_ID: aadAppTenantId
    AAD_APP_OAUTH_AUTHORITY_HOST: aadAppOauthAuthorityHost
    STORAGE: 'azure-table'
    AZURE_STORAGE_ACCOUNT_URL: storage.properties.primaryEndpoints.table
    // The identity the store (and @azure/identity) authenticates with.
    AZURE_CLIENT_ID: identity.properties.clientId
    TOKEN_CACHE_KEY: '@Microsoft.KeyVault(SecretUri=${tokenCacheKeySecret.properties.secretUri})'
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
    // App Service's Application Insights agent for Node.js on Linux (requests, dependencies).
    ApplicationInsightsAgent_EXTENSION_VERSION: '~3'
  })
  dependsOn: [
    // Key Vault references and the store fail until the identity holds its roles.
    keyVaultRole
    storageRole
  ]
}

// The bot registration: Bot Framework sends Teams activities to the Web App and trusts tokens of
// the managed identity.
resource botService 'Microsoft.BotService/botServices@2022-09-15' = {
  name: botServiceName
  location: 'global'
  kind: 'azurebot'
  sku: {
    name: botServiceSku
  }
  properties: {
    displayName: botDisplayName
    endpoint: 'https://${webApp.properties.defaultHostName}/api/messages'
    msaAppId: identity.properties.clientId
    msaAppMSIResourceId: identity.id
    msaAppTenantId: identity.properties.tenantId
    msaAppType: 'UserAssignedMSI'
  }
}

resource teamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: botService
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
    }
  }
}

// Written to env/.env.<environment> by arm/deploy (https://aka.ms/teamsfx-actions/arm-deploy).
// BOT_ID is the managed identity's client id: the Teams app manifest's bot id and the SSO app's
// identifier URI (api://botid-<BOT_ID>) use it.
output BOT_ID string = identity.properties.clientId
output BOT_TENANT_ID string = identity.properties.tenantId
output BOT_AZURE_APP_SERVICE_RESOURCE_ID string = webApp.id
output BOT_DOMAIN string = webApp.properties.defaultHostName
output BOT_ENDPOINT string = 'https://${webApp.properties.defaultHostName}'
output APPLICATIONINSIGHTS_RESOURCE_ID string = appInsights.id
