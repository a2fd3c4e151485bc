// Runtime settings of the shop. This default points at the local platform
// (`./emporium up`); scripts/serve.mjs answers /config.js from EMPORIUM_GATEWAY_URL and
// EMPORIUM_IDENTITY_URL instead, and so does the server of a deployed build.
window.__EMPORIUM_CONFIG__ = {
  gatewayUrl: 'http://127.0.0.1:4000/graphql',
  identityUrl: 'http://127.0.0.1:8001',
};
