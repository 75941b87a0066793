/**
 * The HTTP status of every error class core can throw, by `name`: the one table the error middleware reads.
 * A test walks every error class exported under core/ and fails on one missing here, so each gets a deliberate
 * status; 500 marks conditions that should never reach a request (start-up, wiring), whose bodies stay hidden.
 */
export const ERROR_STATUS: Readonly<Record<string, number>> = {
  // media and the library (core/errors.ts)
  MediaNotFoundError: 404,
  ProfileNotFoundError: 404,
  SegmentNotFoundError: 404,
  UnsupportedMediaError: 415,
  InvalidMediaError: 422,
  InvalidPathError: 400,
  PathNotFoundError: 404,
  TranscodeFailedError: 502,
  TooManySessionsError: 503,
  // a write refused for lack of space (RFC 4918's 507 Insufficient Storage), on the main server as on a node
  DiskFullError: 507,
  FfmpegNotFoundError: 500,
  // poster frames are taken in the background and only logged: never a request's fault
  PosterFrameError: 500,
  // content and the gateways
  InvalidCIDError: 400,
  ContentNotFoundError: 404,
  NotCachedError: 412,
  InvalidRequestError: 400,
  UnsupportedMediaTypeError: 415,
  BodyTooLargeError: 413,
  RangeNotSatisfiableError: 416,
  NotAcceptableError: 406,
  // the catalog (core/catalog/errors.ts); a stopping catalog is a daemon shutting down
  RenditionNotFoundError: 404,
  IncompleteRenditionError: 409,
  CatalogNotStartedError: 503,
  // its database locked by another process for longer than the catalog waits: nothing changed, try again (Retry-After)
  CatalogBusyError: 503,
  // its database out of reach (PostgreSQL stopped, the network down): nothing changed, try again
  CatalogUnavailableError: 503,
  // several main servers on one catalog and none leads for a moment (a failover): what only the leader does waits
  LeaderUnavailableError: 503,
  // a start-up condition (the database's collation): never a request's
  UnsuitableDatabaseError: 500,
  // `cidcast db copy`'s own conditions, never a request's
  DatabaseNotEmptyError: 500,
  CopyMismatchError: 500,
  // routing and IPNS
  InvalidIpnsNameError: 400,
  InvalidIpnsRecordError: 400,
  IpnsRecordExpiredError: 400,
  IpnsRecordTooLargeError: 413,
  // a valid record that is not better than the one kept: the spec lists no code for it, 409 says "conflicts with current state"
  StaleIpnsRecordError: 409,
  IpnsNameNotAllowedError: 403,
  IpnsRecordNotFoundError: 404,
  RoutingRecordNotFoundError: 404,
  // the control plane and the node registry
  InvalidControlMessageError: 400,
  InvalidNodeNameError: 400,
  IpnsMismatchError: 400,
  PeerIdMismatchError: 403,
  ForbiddenError: 403,
  NodeRevokedError: 403,
  ControlVersionError: 409,
  NodeNotFoundError: 404,
  NodeNotRegisteredError: 409,
  // a registration whose `--owner` names no user of the main server
  UnknownOwnerError: 400,
  ServerUnreachableError: 502,
  ControlRefusedError: 502,
  ControlTimeoutError: 504,
  // a CDN node's own conditions
  OriginUnavailableError: 502,
  UnverifiedContentError: 502,
  ServerDialFailedError: 502,
  PrivateNetworkRefusedError: 502,
  DataFolderFullError: 507,
  // replication and pins
  InvalidPinOrderError: 400,
  PinNotFoundError: 404,
  UnderReplicatedError: 409,
  NothingToReplicateError: 409,
  PinCancelledError: 409,
  NoProviderReachableError: 502,
  PinStalledError: 504,
  // a holder's block stream (core/ipfs/block-stream-wire.ts): a peer that broke the framing, or went quiet
  BlockStreamFrameError: 502,
  BlockStreamStalledError: 504,
  // metadata (core/metadata/errors.ts); NFO and XML errors are caught where sidecars are read
  SeriesNotFoundError: 404,
  CollectionNotFoundError: 404,
  AuditEntryNotFoundError: 404,
  NoProviderError: 409,
  ImageRefusedError: 422,
  ProviderError: 502,
  NfoError: 500,
  XmlParseError: 500,
  // stream tokens (core/access/errors.ts): none -> 401; a bad one, another media's, an expired one -> 403
  TokenMissingError: 401,
  TokenInvalidError: 403,
  TokenScopeError: 403,
  OwnerOnlyError: 403,
  TokenExpiredError: 403,
  // accounts (core/access/errors.ts): no credential or a bad one -> 401; a role that may not -> 403
  AuthenticationRequiredError: 401,
  InvalidCredentialsError: 401,
  PermissionDeniedError: 403,
  TooManyAttemptsError: 429,
  AccountExistsError: 409,
  AccountNotFoundError: 404,
  // node invitations (issue 14): a join token's invitation that cannot be spent, saying why
  JoinTokenInvalidError: 400,
  InvitationNotFoundError: 404,
  InvitationExpiredError: 410,
  InvitationRevokedError: 410,
  InvitationSpentError: 409,
  LastAdminError: 409,
  // a bad public key list comes from the main server or a node's own key file, never from a request
  InvalidStreamKeyError: 500,
  // start-up and wiring: never a request's fault
  InvalidConfigError: 500,
  InvalidSwarmKeyError: 500,
  SwarmKeyExistsError: 500,
  SwarmKeyMissingError: 500,
  DataFolderLockedError: 500,
  // a node's setup page (node/setup.ts): a folder of another network, a request from elsewhere
  DataFolderTakenError: 409,
  SetupForbiddenError: 403,
  PortInUseError: 500,
  PrivateNetworkRequiredError: 500,
  KeystreamExhaustedError: 500
}

/** 5xx conditions whose name and message a client may see (they say what to do: retry later, check the source, free space). */
export const EXPOSED_5XX: ReadonlySet<string> = new Set(['TooManySessionsError', 'TranscodeFailedError', 'CatalogBusyError', 'CatalogUnavailableError', 'LeaderUnavailableError', 'DiskFullError'])

/** The status for an error `name`, or undefined when the table does not know it. */
export function statusOfError (name: string | undefined): number | undefined {
  return name == null ? undefined : ERROR_STATUS[name]
}
