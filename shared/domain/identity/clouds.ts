/**
 * The Microsoft clouds a service principal can live in, and the hosts that belong to each. Tokens never
 * cross clouds: an app registered in one cloud gets tokens only from that cloud's Entra ID host, for that
 * cloud's Graph. Sources: learn.microsoft.com/graph/deployments (Entra ID and Graph root endpoints per
 * national cloud) and MSAL's built-in authority metadata (aliases of each Entra ID host).
 */
import { CLOUDS, type Cloud } from '../records';

export { CLOUDS, type Cloud };

export interface CloudProfile {
  cloud: Cloud;
  label: string;
  /** The Entra ID host used by default (first) and every alias of it that may appear in an authority URL. */
  authorityHosts: readonly string[];
  /** Microsoft Graph hosts of this cloud (first: the default). */
  graphHosts: readonly string[];
  /** The Graph resource used in `.default` scopes (client credentials). */
  graphResource: string;
  /** Key Vault DNS suffix of the cloud (a vault host must end with it). */
  keyVaultSuffix: string;
}

export const CLOUD_PROFILES: Readonly<Record<Cloud, CloudProfile>> = {
  global: {
    cloud: 'global',
    label: 'Microsoft global service',
    authorityHosts: ['login.microsoftonline.com', 'login.microsoft.com', 'login.windows.net', 'sts.windows.net'],
    graphHosts: ['graph.microsoft.com'],
    graphResource: 'https://graph.microsoft.com',
    keyVaultSuffix: '.vault.azure.net',
  },
  usgov: {
    cloud: 'usgov',
    label: 'US Government L4 (GCC High)',
    authorityHosts: ['login.microsoftonline.us', 'login.usgovcloudapi.net'],
    graphHosts: ['graph.microsoft.us'],
    graphResource: 'https://graph.microsoft.us',
    keyVaultSuffix: '.vault.usgovcloudapi.net',
  },
  usgovdod: {
    cloud: 'usgovdod',
    label: 'US Government L5 (DoD)',
    authorityHosts: ['login.microsoftonline.us', 'login.usgovcloudapi.net'],
    graphHosts: ['dod-graph.microsoft.us'],
    graphResource: 'https://dod-graph.microsoft.us',
    keyVaultSuffix: '.vault.usgovcloudapi.net',
  },
  china: {
    cloud: 'china',
    label: 'Microsoft 365 operated by 21Vianet (China)',
    authorityHosts: ['login.chinacloudapi.cn', 'login.partner.microsoftonline.cn'],
    graphHosts: ['microsoftgraph.chinacloudapi.cn'],
    graphResource: 'https://microsoftgraph.chinacloudapi.cn',
    keyVaultSuffix: '.vault.azure.cn',
  },
};

export interface CloudDefaults {
  authorityUrl: string;
  graphApiEndpoint: string;
  scopes: string;
}

/** What a new principal of `cloud` gets when the admin does not enter URLs. */
export function cloudDefaults(cloud: Cloud, tenantId: string): CloudDefaults {
  const profile = CLOUD_PROFILES[cloud];
  return {
    authorityUrl: `https://${profile.authorityHosts[0]}/${tenantId}`,
    graphApiEndpoint: `https://${profile.graphHosts[0]}/v1.0`,
    scopes: `${profile.graphResource}/.default`,
  };
}

/**
 * The cloud an authority host belongs to, when it tells (US Gov L4 and DoD share their Entra ID host, so
 * `login.microsoftonline.us` answers `usgov`; the Graph host then decides between the two).
 */
export function cloudOfAuthorityHost(hostname: string): Cloud | undefined {
  const host = hostname.toLowerCase();
  return CLOUDS.find((c) => CLOUD_PROFILES[c].authorityHosts.includes(host));
}

export function cloudOfGraphHost(hostname: string): Cloud | undefined {
  const host = hostname.toLowerCase();
  return CLOUDS.find((c) => CLOUD_PROFILES[c].graphHosts.includes(host));
}
