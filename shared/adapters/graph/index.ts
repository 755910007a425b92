/** The Microsoft Graph adapter: our Graph client (own middleware chain) and the `MailSource` built on it. */
export {
  GraphMailSource,
  createGraphMailSource,
  principalTokenSource,
  toGraphMessage,
  odataString,
  ATTACHMENT_SELECT,
  IN_REPLY_TO_PROPERTY,
  REFERENCES_PROPERTY,
  MESSAGE_SIZE_PROPERTY,
  EXTENDED_PROPERTIES_EXPAND,
  type GraphMailSourceOptions,
  type GraphMailSourceForPrincipal,
  type MailFolderInfo,
} from './graph-mail-source';
export {
  GraphHttp,
  createGraphClient,
  parseGraphEndpoint,
  assertGraphLink,
  mergePrefer,
  responseByteStream,
  unwrapGraphFailure,
  type GraphClientHandle,
  type GraphClientOptions,
  type GraphEndpoint,
  type GraphTokenSource,
} from './graph-client';
export { ENDPOINT_NOT_ALLOWED, INVALID_RESPONSE, LINK_NOT_ALLOWED, NETWORK_ERROR } from './errors';
