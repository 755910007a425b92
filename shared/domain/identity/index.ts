/** The identity area: service principals, clouds and endpoint safety, tokens, validation and test connection. */
export * from './audit';
export * from './certificate';
export * from './clouds';
export * from './credential-expiry';
export * from './endpoints';
export * from './jobs';
export * from './ports';
export * from './public-view';
export * from './service-principal-input';
export * from './service-principals';
export * from './test-connection';
export * from './token-cache-cipher';
export * from './token-errors';
