/**
 * Accounts, pairing and sharing over HTTP (issue #11 §3–§5). Schemas: `@overlord/protocol` `Api`
 * (the block "Accounts, pairing and sharing"). Every error is `Api.ApiError`
 * (`{ error: { code, message } }`); "signed in" means the dashboard's cookie or an `api` bearer token;
 * non-GET requests from a browser must come from an allowed Origin (as the rest of `/api/v1`).
 *
 * Routes:
 * - `GET  /api/v1/me` (signed in) → `Api.Me` `{ user: { userId, email, name, role } }`.
 * - `GET  /api/v1/machines` (signed in) → `{ machines: (Api.Machine & { revoked?: true })[] }`.
 * - `POST /api/v1/machines/:machineId/revoke` (signed in, own machine) → 204; its tokens are revoked and
 *   its open sync socket is refused and closed at once (`refused unauthorized`, "run overlord login <url> again").
 * - `GET  /api/v1/tokens` (signed in) → `Api.TokenList` (API tokens and pairing keys; no plaintext).
 * - `POST /api/v1/tokens` `Api.CreateTokenRequest` (signed in) → 201 `Api.CreatedToken` (plaintext shown once).
 * - `POST /api/v1/tokens/:tokenId/revoke` (signed in, own token) → 204.
 * - `POST /api/v1/invites` `Api.CreateInviteRequest` (admin) → 201 `Api.CreatedLink` `{ url: <server>/invite/<token>, expiresAt }`.
 * - `GET  /invite/:token` → the dashboard (its page posts to the route below).
 * - `POST /api/v1/invites/accept` `Api.AcceptLinkRequest` (unauthenticated) → 200 `Api.Me` + session cookie;
 *   410 `link_used_or_expired`; 409 `email_taken`.
 * - `GET  /setup/:token` → the dashboard (first start: `overlord serve` prints this link while no admin exists).
 * - `POST /api/v1/setup` `Api.AcceptLinkRequest` (unauthenticated) → 200 `Api.Me` + session cookie (the
 *   first admin); 410 when used, expired, or an admin exists.
 * - `GET  /api/v1/links/:token` (unauthenticated) → `Api.LinkStatus` (is this setup/invite link still valid).
 * - `POST /api/v1/pairing-keys` `Api.CreatePairingKeyRequest` (admin) → 201 `Api.CreatedPairingKey` (shown once).
 * - `POST /api/v1/pairing-keys/redeem` `Api.RedeemPairingKeyRequest` (unauthenticated; the CLI's
 *   `overlord login <url> --key`) → 200 `Api.MachineCredential`; 401 `invalid_key`.
 * - `POST /api/v1/device/code` `Api.PairingMachine` (unauthenticated; the CLI) → 200 `Api.DeviceCode`.
 * - `POST /api/v1/device/token` `Api.DeviceTokenRequest` (unauthenticated; the CLI) → `Api.DeviceTokenResponse`:
 *   428 pending, 429 slow_down, 200 approved (token delivered once), 403 denied, 410 expired.
 * - `GET  /api/v1/device/:userCode` (signed in) → `Api.DeviceRequest` (404 unknown code).
 * - `POST /api/v1/device/:userCode/approve` and `…/deny` (signed in) → `Api.DeviceRequest`; 409 when no
 *   longer pending. The dashboard page is `/device?code=<userCode>`.
 * - `GET  /api/v1/sessions/:sessionId/shares` (owner) → `Api.SessionShareList`.
 * - `POST /api/v1/sessions/:sessionId/shares` `Api.ShareRequest` (owner) → 201 `Api.SessionShare`; 404 no such
 *   user on this server or no such session of yours.
 * - `DELETE /api/v1/sessions/:sessionId/shares/:userId` (owner) → 204.
 * - `GET  /api/v1/shared-sessions` (signed in) → `Api.SharedSessionList`. A grantee reads a shared session
 *   through the ordinary `GET /api/v1/sessions/:id`, `/entries` and `/export` routes; never writable or
 *   commandable.
 *
 * Unauthenticated routes are rate-limited per client address (device/token additionally by `interval`).
 */
export {}
