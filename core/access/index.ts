// core/access: stream-token signing and offline verification, and the keys behind them. Other rooms import this file only.
export { createStreamTokenSigner, createStreamTokenVerifier, DEFAULT_CLOCK_SKEW_SECONDS, DEFAULT_TOKEN_CACHE_SIZE } from './stream-token.ts'
export type {
  SignOptions, SignedStreamToken, StreamTokenRequest, StreamTokenSigner, StreamTokenSignerComponents,
  StreamTokenVerifier, StreamTokenVerifierComponents, StreamTokenVerifierInit, TokenCacheStats, VerifyOptions
} from './stream-token.ts'
export type { StreamTokenClaims } from './token-codec.ts'
export { MAX_ROOTS, MAX_TOKEN_CHARS } from './token-codec.ts'
export { openSigningKeyRing, SIGNING_KEYS_FILE, DEFAULT_RETIRE_AFTER_SECONDS } from './signing-keys.ts'
export type { SigningKey, SigningKeyRing, SigningKeyRingComponents, SigningKeyRingInit } from './signing-keys.ts'
export { openKeyRing, PUBLIC_KEYS_FILE } from './key-ring.ts'
export type { KeyRing, KeyRingComponents, KeyRingInit } from './key-ring.ts'
export { checkPublicKey } from './stream-keys.ts'
export type { StreamKeyLookup, StreamPublicKey } from './stream-keys.ts'
export { InvalidStreamKeyError, TokenExpiredError, TokenInvalidError, TokenMissingError, TokenScopeError } from './errors.ts'
export type { KeyRingSettings } from './key-ring.ts'
export { createNodeCredentialIssuer, createNodeCredentialVerifier, NODE_CREDENTIAL_HEADER, NODE_CREDENTIAL_TTL_SECONDS } from './node-credential.ts'
export type { NodeCredential, NodeCredentialClaims, NodeCredentialIssuer, NodeCredentialIssuerInit, NodeCredentialVerifier } from './node-credential.ts'
export { createStreamUrls, DEFAULT_STREAM_TTL_SECONDS } from './stream-urls.ts'
export type { StreamMedia, StreamNode, StreamUrl, StreamUrlComponents, StreamUrlRequest, StreamUrls } from './stream-urls.ts'
