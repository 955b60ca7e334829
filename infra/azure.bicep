// STARTING POINT for the Azure side of the Elevation bot, deployed by teamsapp.yml (arm/deploy)
// with the values of infra/azure.parameters.json. Review it before production use, in particular:
// - secrets go to App Service settings as plain values; prefer Key Vault references and a managed
//   identity (for the storage account too) once the bot runs for real;
// - one instance, B1 plan, public network access; no Application Insights, no alerts;
// - the Azure Bot is SingleTenant: the bot's Entra app (botAadApp/create) lives in botTenantId.

@minLength(4)
@maxLength(30)
@description('Prefix of every resource name (the app name plus APP_NAME_SUFFIX).')
param resourceBaseName string

@description('Azure region of the App Service plan, Web App and storage account.')
param location string = resourceGroup().location

@description('App Service plan size. B1 or larger: "always on" keeps proactive notifications timely.')
param webAppSku string = 'B1'

@maxLength(42)
@description('Name shown for the bot in the Azure portal.')
param botDisplayName string

@description('Pricing tier of the Azure Bot resource (F0 is free; the Teams channel is free).')
param botServiceSku string = 'F0'

@description('Client id of the bot\'s Entra app (BOT_ID).')
param botAadAppClientId string

@secure()
@description('Client secret of the bot\'s Entra app (SECRET_BOT_PASSWORD).')
param botAadAppClientSecret string

@description('Tenant of the bot\'s Entra app; new Azure Bot resources must be SingleTenant (or managed identity).')
param botTenantId string

@description('Client id of the SSO app (AAD_APP_CLIENT_ID).')
param aadAppClientId string

@secure()
@description('Client secret of the SSO app, used for the on-behalf-of exchange (SECRET_AAD_APP_CLIENT_SECRET).')
param aadAppClientSecret string

param aadAppTenantId string

param aadAppOauthAuthorityHost string = 'https://login.microsoftonline.com'

@secure()
@description('32 random bytes (base64 or hex) that encrypt the sign-ins and token cache kept in Table storage (SECRET_TOKEN_CACHE_KEY); required with azure-table.')
param tokenCacheKey string

@description('The optional settings set in env/.env.<environment> (ALLOWED_TENANT_IDS, BOT_ADMIN_IDS, ...), as base64 of a JSON object: written by scripts/toolkit-env.js app-settings, since the Toolkit refuses empty placeholders.')
param optionalAppSettings string = ''

@allowed([
  'azure-table'
  'sqlite'
])
@description('azure-table (default in Azure) or sqlite. SQLite would live on the /home file share, where its WAL mode is not reliable: use it for a trial only.')
param storageKind string = 'azure-table'

var optionalSettings = empty(optionalAppSettings) ? {} : json(base64ToString(optionalAppSettings))
var uniqueSuffix = uniqueString(resourceGroup().id)
var webAppName = '${resourceBaseName}-${uniqueSuffix}'
var botServiceName = '${resourceBaseName}-${uniqueSuffix}'
var storageAccountName = 'elev${uniqueSuffix}'

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
  properties: {
    serverFarmId: serverfarm.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: 'NODE|20-lts'
      appCommandLine: 'npm start'
      alwaysOn: true
      healthCheckPath: '/healthz'
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
    }
  }
}

// Audit trail, requests, subscriptions and conversation references (STORAGE=azure-table).
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
    supportsHttpsTrafficOnly: true
  }
}

// The bot's settings (names as in src/config.ts). Kept in a child resource so they can use the
// Web App's host name. NODE_ENV is deliberately not "production": the build on App Service
// (SCM_DO_BUILD_DURING_DEPLOYMENT) needs the devDependencies (TypeScript).
resource webAppSettings 'Microsoft.Web/sites/config@2022-09-01' = {
  parent: webApp
  name: 'appsettings'
  // The optional settings first: the ones below always win.
  properties: union(optionalSettings, {
    SCM_DO_BUILD_DURING_DEPLOYMENT: 'true'
    BOT_ID: botAadAppClientId
    BOT_PASSWORD: botAadAppClientSecret
    BOT_TYPE: 'SingleTenant'
    BOT_TENANT_ID: botTenantId
    BOT_DOMAIN: webApp.properties.defaultHostName
    AAD_APP_CLIENT_ID: aadAppClientId
    AAD_APP_CLIENT_SECRET: aadAppClientSecret
    AAD_APP_TENANT_ID: aadAppTenantId
    AAD_APP_OAUTH_AUTHORITY_HOST: aadAppOauthAuthorityHost
    STORAGE: storageKind
    TOKEN_CACHE_KEY: tokenCacheKey
    AZURE_STORAGE_CONNECTION_STRING: 'DefaultEndpointsProtocol=https;AccountName=${storage.name};AccountKey=${storage.listKeys().keys[0].value};EndpointSuffix=${environment().suffixes.storage}'
    SQLITE_PATH: '/home/data/elevation-bot.db'
  })
}

// The bot registration: Bot Framework sends Teams activities to the Web App.
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
    msaAppId: botAadAppClientId
    msaAppTenantId: botTenantId
    msaAppType: 'SingleTenant'
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
output BOT_AZURE_APP_SERVICE_RESOURCE_ID string = webApp.id
output BOT_DOMAIN string = webApp.properties.defaultHostName
output BOT_ENDPOINT string = 'https://${webApp.properties.defaultHostName}'
