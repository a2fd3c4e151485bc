// Where the shop's APIs are: read at start from /config.js (see public/config.js), so one
// build serves every environment.

export interface ShopConfig {
  /** The gateway's GraphQL endpoint: every read and write goes there. */
  gatewayUrl: string;
  /** identity's public base URL: the browser-session routes and OpenID Connect sign-in. */
  identityUrl: string;
}

declare global {
  interface Window {
    __EMPORIUM_CONFIG__?: Partial<ShopConfig>;
  }
}

const LOCAL_PLATFORM: ShopConfig = {
  gatewayUrl: 'http://127.0.0.1:4000/graphql',
  identityUrl: 'http://127.0.0.1:8001',
};

export const config: ShopConfig = {
  ...LOCAL_PLATFORM,
  ...(typeof window === 'undefined' ? {} : window.__EMPORIUM_CONFIG__),
};
