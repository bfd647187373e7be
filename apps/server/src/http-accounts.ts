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
 * - `POST /api/v1/machines/:machineId/rename` `Api.RenameMachineRequest` (signed in, own live machine; or the
 *   machine's own token, `overlord start --name`) → 200 `Api.RenamedMachine`; 409 `machine_name_taken` when
 *   another of the user's live machines has the name; 404 not theirs. Every dashboard of the user sees it at
 *   once (live health); the daemon's next hello keeps it (`nameAtHello`, `@overlord/store`).
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
 *   longer pending, and 409 `machine_paired` for an approval whose machine id is a live machine of the
 *   approver (revoke it first to re-pair it). The dashboard page is `/device?code=<userCode>`.
 * - `GET  /api/v1/sessions/:sessionId/shares` (owner) → `Api.SessionShareList`.
 * - `POST /api/v1/sessions/:sessionId/shares` `Api.ShareRequest` (owner) → 201 `Api.SessionShare`; 404 no such
 *   user on this server or no such session of yours.
 * - `DELETE /api/v1/sessions/:sessionId/shares/:userId` (owner) → 204.
 * - `POST /api/v1/login-links` with a paired machine's own token (`overlord open`) → `{ url }`: a one-time
 *   sign-in link for the machine's user, valid 10 minutes (with an API token: as before, `app.ts`).
 * - `GET  /api/v1/shared-sessions` (signed in) → `Api.SharedSessionList`. A grantee reads a shared session
 *   through the ordinary `GET /api/v1/sessions/:id`, `/entries` and `/export` routes; never writable or
 *   commandable.
 *
 * Unauthenticated routes are rate-limited per client address (device/token additionally by `interval`).
 */
import { Api } from "@overlord/protocol"
import {
  type Actor,
  type DeviceRequestInfo,
  isRetryable,
  isStoreError,
  type Interface as StoreApi,
  StoreInputError,
  type UserRole,
} from "@overlord/store"
import type { Server } from "bun"
import { Effect, Schema } from "effect"
import { type AccessPolicy, BROWSER_SESSION_TTL_MS, originAllowed, sessionCookie } from "./auth.ts"
import { clientAddress } from "./client-address.ts"
import { apiError, decodedPath, handleApi, internalError, logRequestFailure } from "./http-api.ts"

/** RFC 8628's default is 5 s; 2 s keeps pairing quick and costs one indexed row read per poll. */
export const DEVICE_POLL_INTERVAL_S = 2
export const DEVICE_CODE_TTL_MS = 10 * 60 * 1000
export const INVITE_TTL_MS = 7 * 24 * 3600 * 1000
export const SETUP_LINK_TTL_MS = 24 * 3600 * 1000
/** A sign-in link printed by `overlord open` on a paired laptop is used at once, or not at all. */
export const MACHINE_LOGIN_LINK_TTL_MS = 10 * 60 * 1000
/** Bodies of these routes are a few hundred bytes. */
const MAX_BODY_BYTES = 16 * 1024
/** What a refused or revoked machine is told (the daemon shows it in `overlord status`). */
export const REPAIR_HINT = "run `overlord login <this server's URL>` on the machine to pair it again"

export interface AccountRoutesOptions {
  readonly store: StoreApi
  readonly policy: AccessPolicy
  readonly secureCookies: boolean
  /** Refuses and closes the open sync sockets of a revoked machine, at once. */
  readonly closeMachine: (userId: number, machineUid: string) => void
  /** Ends the grantee's live subscriptions to the session at once (`LiveHub.shareWithdrawn`). */
  readonly shareWithdrawn?: (ownerId: number, sessionId: string, granteeId: number) => void
  /** Tells the user's dashboards their machines changed (a rename; `LiveHub.machinesChanged`). */
  readonly machinesChanged?: (userId: number) => void
  /** Tells the renamed machine's connected daemon its new name (`SyncPresence.renamed`). */
  readonly machineRenamed?: (userId: number, machineUid: string, name: string) => void
}

export type AccountRoutes = (
  req: Request,
  url: URL,
  actor: Actor | null,
  server?: Server<unknown>,
) => Promise<Response | undefined>

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  })

class BadRequest extends Error {}

/** A device request as the approver sees it: not the machine id it claims, but the paired machine it names. */
const deviceRequestOf = (info: DeviceRequestInfo, pairedMachine: string | undefined): Api.DeviceRequest => ({
  userCode: info.userCode,
  machineName: info.machineName,
  status: info.status,
  expiresAt: info.expiresAt,
  ...(pairedMachine !== undefined ? { pairedMachine } : {}),
})

/**
 * A token bucket per client address: `capacity` requests at once, then `perSecond`. Addresses are
 * forgotten once their bucket is full again, so the map holds only recent clients.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()
  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
  ) {}
  take(key: string, now = Date.now()): boolean {
    const b = this.buckets.get(key) ?? { tokens: this.capacity, at: now }
    b.tokens = Math.min(this.capacity, b.tokens + ((now - b.at) / 1000) * this.perSecond)
    b.at = now
    if (this.buckets.size > 10_000) this.sweep(now)
    if (b.tokens < 1) {
      this.buckets.set(key, b)
      return false
    }
    b.tokens -= 1
    this.buckets.set(key, b)
    return true
  }
  private sweep(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.perSecond >= this.capacity) this.buckets.delete(k)
    }
  }
}

async function body<S extends Schema.Top>(req: Request, schema: S): Promise<S["Type"]> {
  const length = Number(req.headers.get("content-length") ?? "0")
  if (length > MAX_BODY_BYTES) throw new BadRequest("the body is too large")
  // Bun fails the read of a body past `maxRequestBodySize` (`http-server.ts`) and answers 413 itself.
  const text = await req.text().catch(() => {
    throw new BadRequest("the body is too large or was cut off")
  })
  if (text.length > MAX_BODY_BYTES) throw new BadRequest("the body is too large")
  let value: unknown
  try {
    value = text === "" ? {} : JSON.parse(text)
  } catch {
    throw new BadRequest("the body is not JSON")
  }
  const exit = Schema.decodeUnknownExit(schema as never)(value)
  if (exit._tag === "Failure") throw new BadRequest("the body does not match the expected shape")
  return exit.value as S["Type"]
}

const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/
const MACHINE_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The account routes: a response for the paths listed above, `undefined` for any other. */
export function makeAccountRoutes(options: AccountRoutesOptions): AccountRoutes {
  const { store, policy } = options
  const run = <A>(e: Effect.Effect<A, unknown>) => Effect.runPromise(e)
  // Unauthenticated routes: 60 at once, then one a second per address; the device poll: two a second.
  const publicLimit = new RateLimiter(60, 1)
  const pollLimit = new RateLimiter(30, 2)
  // A device flow's user code (20^8 codes) looked up or decided by a signed-in user, per user: 20 at
  // once, then one every 3 s. Unlimited, any member could try codes as fast as the server answers, and
  // approving another's pending code pairs that laptop to the guesser (its transcripts sync to them).
  // A person types a code a few times per pairing; a guesser gets ~200 tries in a code's 10 minutes.
  const deviceLimit = new RateLimiter(20, 1 / 3)
  /**
   * A refused credential or a limit reached: logged (warning) with who tried, never the secret itself;
   * one line a minute for each kind and client, so a flood of guesses does not flood the log.
   */
  const refusalsLogged = new RateLimiter(1, 1 / 60)
  const logRefused = (what: string, who: string) => {
    if (refusalsLogged.take(`${what}\n${who}`)) Effect.runFork(Effect.logWarning(`${what} (from ${who})`))
  }

  /** Behind the proxy the request's own URL is the proxy's upstream (http, maybe another host). */
  const originOf = (req: Request, url: URL) => {
    const publicUrl = policy.publicUrl
    return publicUrl && publicUrl.host === req.headers.get("host")?.toLowerCase() ? publicUrl.origin : url.origin
  }
  // Behind a trusted proxy, the client X-Forwarded-For names (`client-address.ts`), else the peer.
  const clientKey = (req: Request, server?: Server<unknown>) =>
    clientAddress(
      server?.requestIP(req)?.address ?? "direct",
      req.headers.get("x-forwarded-for"),
      policy.trustedProxies,
    )

  const signedIn = async (user: Api.AccountUser) => {
    const browser = await run(store.issueToken({ userId: user.userId, kind: "browser", ttlMs: BROWSER_SESSION_TTL_MS }))
    return json({ user } satisfies Api.Me, 200, { "set-cookie": sessionCookie(browser, options.secureCookies) })
  }

  const requireRole = async (actor: Actor, role: UserRole): Promise<Api.AccountUser | null> => {
    const user = await run(store.getUser(actor.userId))
    return user && (role === "member" || user.role === role) ? user : null
  }

  const machineBearer = async (req: Request) => {
    const auth = req.headers.get("authorization")
    if (!auth?.toLowerCase().startsWith("bearer ")) return null
    const token = auth.slice(7).trim()
    return token ? run(store.verifyToken(token, ["machine"])) : null
  }

  const unauthenticated = async (
    req: Request,
    url: URL,
    path: string,
    client: string,
  ): Promise<Response | undefined> => {
    if (path === "/setup" || path === "/invites/accept") {
      if (req.method !== "POST") return apiError(405, "method_not_allowed", "POST")
      const input = await body(req, Api.AcceptLinkRequest)
      const out = await run(
        store.acceptAccountLink(input.token, path === "/setup" ? "setup" : "invite", input.email, input.name),
      )
      if (out._tag === "EmailTaken") return apiError(409, "email_taken", "a user with this e-mail exists")
      if (out._tag === "Invalid") {
        logRefused(`refused ${path === "/setup" ? "a setup" : "an invite"} link: invalid, expired or used`, client)
        return apiError(410, "link_used_or_expired", "this link is invalid, expired or already used")
      }
      return signedIn(out.user)
    }
    const link = /^\/links\/([^/]{1,200})$/.exec(path)
    if (link && req.method === "GET") {
      const token = decodedPath(link[1]!)
      const status = token ? await run(store.accountLinkStatus(token)) : null
      if (!status) return apiError(404, "not_found", "no such link")
      return json(status satisfies Api.LinkStatus)
    }
    if (path === "/device/code") {
      if (req.method !== "POST") return apiError(405, "method_not_allowed", "POST")
      const input = await body(req, Api.PairingMachine)
      const code = await run(
        store.createDeviceCode({
          machineUid: input.machineId,
          machineName: input.machineName,
          ttlMs: DEVICE_CODE_TTL_MS,
        }),
      )
      return json({
        deviceCode: code.deviceCode,
        userCode: code.userCode,
        verificationUrl: `${originOf(req, url)}/device?code=${code.userCode}`,
        interval: DEVICE_POLL_INTERVAL_S,
        expiresIn: DEVICE_CODE_TTL_MS / 1000,
      } satisfies Api.DeviceCode)
    }
    if (path === "/device/token") {
      if (req.method !== "POST") return apiError(405, "method_not_allowed", "POST")
      const input = await body(req, Api.DeviceTokenRequest)
      // A little slack: a poll that left on time may arrive a moment early.
      const poll = await run(store.pollDeviceCode(input.deviceCode, DEVICE_POLL_INTERVAL_S * 1000 - 250))
      if (poll.status === "approved") {
        return json({
          status: "approved",
          token: poll.token,
          machineId: poll.machineUid,
        } satisfies Api.DeviceTokenResponse)
      }
      const status = { pending: 428, slow_down: 429, denied: 403, expired: 410 }[poll.status]
      return json({ status: poll.status } satisfies Api.DeviceTokenResponse, status)
    }
    if (path === "/pairing-keys/redeem") {
      if (req.method !== "POST") return apiError(405, "method_not_allowed", "POST")
      const input = await body(req, Api.RedeemPairingKeyRequest)
      if (!MACHINE_ID.test(input.machineId)) throw new BadRequest("invalid machine id")
      const got = await run(store.redeemPairingKey(input.key, input.machineId))
      if (!got) {
        logRefused("refused a pairing key: invalid, expired, revoked or used", client)
        return apiError(401, "invalid_key", "this pairing key is invalid, expired, revoked or already used")
      }
      return json({ token: got.token, machineId: input.machineId } satisfies Api.MachineCredential)
    }
    return undefined
  }

  const signedInRoutes = async (req: Request, url: URL, path: string, actor: Actor): Promise<Response | undefined> => {
    const method = req.method
    if (path === "/me" && method === "GET") {
      const user = await run(store.getUser(actor.userId))
      return user ? json({ user } satisfies Api.Me) : apiError(401, "unauthorized", "no such user")
    }
    if (path === "/machines" && method === "GET") {
      // The store lists live machines; revoked ones follow, offline and marked, so the dashboard can show them.
      const [machines, revoked] = await Promise.all([run(store.listMachines(actor)), run(store.revokedMachines(actor))])
      const listed = new Set(machines.map((m) => m.machineId))
      const gone = revoked
        .filter((m) => !listed.has(m.machineId))
        .map((m) => ({
          ...m,
          online: false,
          filesTracked: 0,
          bytesPending: 0,
          lastError: null,
          acceptsCommands: false,
          revoked: true,
        }))
      return json({ machines: [...machines, ...gone] })
    }
    if (path === "/tokens") {
      if (method === "GET") return json({ tokens: await run(store.listTokens(actor)) } satisfies Api.TokenList)
      if (method === "POST") {
        const input = await body(req, Api.CreateTokenRequest)
        const label = input.label?.trim().slice(0, 200)
        const token = await run(store.issueToken({ userId: actor.userId, kind: "api", ...(label ? { label } : {}) }))
        const listed = await run(store.listTokens(actor))
        const tokenId = listed.find((t) => t.kind === "api")?.tokenId ?? 0
        return json({ tokenId, token } satisfies Api.CreatedToken, 201)
      }
    }
    const revokeToken = /^\/tokens\/(\d{1,15})\/revoke$/.exec(path)
    if (revokeToken && method === "POST") {
      const ok = await run(store.revokeToken(actor, Number(revokeToken[1])))
      return ok ? new Response(null, { status: 204 }) : apiError(404, "not_found", "no such token of yours")
    }
    if (path === "/invites" && method === "POST") {
      if (!(await requireRole(actor, "admin"))) return apiError(403, "forbidden", "only an admin can invite")
      const input = await body(req, Api.CreateInviteRequest)
      const link = await run(
        store.createAccountLink({
          kind: "invite",
          createdBy: actor.userId,
          role: input.role ?? "member",
          ttlMs: input.ttlMinutes !== undefined ? input.ttlMinutes * 60_000 : INVITE_TTL_MS,
        }),
      )
      return json(
        { url: `${originOf(req, url)}/invite/${link.token}`, expiresAt: link.expiresAt } satisfies Api.CreatedLink,
        201,
      )
    }
    if (path === "/pairing-keys" && method === "POST") {
      if (!(await requireRole(actor, "admin")))
        return apiError(403, "forbidden", "only an admin can create pairing keys")
      const input = await body(req, Api.CreatePairingKeyRequest)
      const label = input.label?.trim().slice(0, 200)
      const ttlMs = input.ttlMinutes * 60_000
      const key = await run(
        store.issueToken({
          userId: actor.userId,
          kind: "pairing-key",
          ttlMs,
          singleUse: input.singleUse,
          ...(label ? { label } : {}),
        }),
      )
      const listed = await run(store.listTokens(actor))
      const tokenId = listed.find((t) => t.kind === "pairing-key")?.tokenId ?? 0
      return json(
        { tokenId, key, expiresAt: new Date(Date.now() + ttlMs).toISOString() } satisfies Api.CreatedPairingKey,
        201,
      )
    }
    const device = /^\/device\/([A-Za-z -]{1,20})(\/approve|\/deny)?$/.exec(decodedPath(path) ?? "")
    if (device && (device[2] ? method === "POST" : method === "GET")) {
      if (!deviceLimit.take(`user ${actor.userId}`)) {
        logRefused("too many device codes tried; refused until the limit refills", `user ${actor.userId}`)
        return apiError(429, "rate_limited", "too many device codes tried; wait a minute and retry")
      }
      if (!device[2] && method === "GET") {
        const found = await run(store.getDeviceRequest(device[1]!))
        if (!found) return apiError(404, "not_found", "no such code")
        // Said before the approval is tried (which is refused): the request claims a machine of this user.
        const paired =
          found.status === "pending"
            ? (await run(store.listMachines(actor))).find((m) => m.machineId === found.machineUid)?.name
            : undefined
        return json(deviceRequestOf(found, paired))
      }
      if (device[2] && method === "POST") {
        const approve = device[2] === "/approve"
        const found = await run(store.decideDeviceRequest(actor, device[1]!, approve))
        if (!found) return apiError(404, "not_found", "no such code")
        if (found.pairedMachine !== undefined)
          return apiError(
            409,
            "machine_paired",
            `this request claims the identity of your paired machine "${found.pairedMachine}" and was not approved: a new pairing cannot take over a paired machine (it would receive that machine's remote commands). If it really is "${found.pairedMachine}" (its credentials were lost), revoke "${found.pairedMachine}" on the Machines page first, then run overlord login again; otherwise deny it`,
          )
        if (found.status !== (approve ? "approved" : "denied"))
          return apiError(409, "not_pending", `this request is ${found.status}`)
        return json(deviceRequestOf(found, undefined))
      }
    }
    if (path === "/shared-sessions" && method === "GET") {
      return json({ sessions: await run(store.listSharedWithMe(actor)) } satisfies Api.SharedSessionList)
    }
    const shares = /^\/sessions\/([^/]+)\/shares(?:\/(\d{1,15}))?$/.exec(path)
    if (shares) {
      const sessionId = decodedPath(shares[1]!)
      if (sessionId === null || !SESSION_ID.test(sessionId)) throw new BadRequest("invalid session id")
      if (!shares[2] && method === "GET") {
        const list = await run(store.listShares(actor, sessionId))
        return list
          ? json({ shares: list } satisfies Api.SessionShareList)
          : apiError(404, "not_found", "no such session of yours")
      }
      if (!shares[2] && method === "POST") {
        const input = await body(req, Api.ShareRequest)
        const out = await run(store.shareSession(actor, sessionId, input.email))
        if (out._tag === "NoSession") return apiError(404, "not_found", "no such session of yours")
        if (out._tag === "NoUser") return apiError(404, "no_such_user", "no other user with this e-mail on this server")
        return json(out.share satisfies Api.SessionShare, 201)
      }
      if (shares[2] && method === "DELETE") {
        const ok = await run(store.unshareSession(actor, sessionId, Number(shares[2])))
        if (!ok) return apiError(404, "not_found", "no such share")
        // Before the answer: once the owner sees 204, no further line reaches the grantee's sockets here.
        options.shareWithdrawn?.(actor.userId, sessionId, Number(shares[2]))
        return new Response(null, { status: 204 })
      }
      return apiError(405, "method_not_allowed", "GET, POST or DELETE")
    }
    // A session shared with the actor, read through the ordinary read routes as its owner (GET only:
    // a share never writes or commands).
    const read = /^\/sessions\/([^/]+)(\/entries|\/export)?$/.exec(path)
    if (read && method === "GET") {
      const sessionId = decodedPath(read[1]!)
      if (sessionId === null || !SESSION_ID.test(sessionId)) return undefined
      const owner = await run(store.sharedSessionOwner(actor, sessionId))
      if (owner === null) return undefined
      // The actor's own session of that id, if any, comes first.
      if (await run(store.getSession(actor, sessionId))) return undefined
      return handleApi(store, { userId: owner }, req, url)
    }
    return undefined
  }

  return async (req, url, actor, server) => {
    if (!url.pathname.startsWith("/api/v1/")) return undefined
    const path = url.pathname.slice("/api/v1".length)
    try {
      if (req.method !== "GET" && !originAllowed(policy, req)) return undefined
      const limit = path === "/device/token" ? pollLimit : publicLimit
      const isPublic =
        path === "/setup" ||
        path === "/invites/accept" ||
        path === "/device/code" ||
        path === "/device/token" ||
        path === "/pairing-keys/redeem" ||
        path.startsWith("/links/")
      if (isPublic) {
        const client = clientKey(req, server)
        if (!limit.take(client)) {
          logRefused(
            `too many requests; ${req.method} ${path.startsWith("/links/") ? "/links/…" : path} refused`,
            client,
          )
          return apiError(429, "rate_limited", "too many requests; wait a little and retry")
        }
        return await unauthenticated(req, url, path, client)
      }
      // Logout: a daemon revokes its own machine with its machine token.
      const revoke = /^\/machines\/([^/]+)\/revoke$/.exec(path)
      if (revoke && req.method === "POST") {
        const machineUid = decodedPath(revoke[1]!)
        if (machineUid === null || !MACHINE_ID.test(machineUid)) throw new BadRequest("invalid machine id")
        const machine = await machineBearer(req)
        const userId = actor?.userId ?? (machine && machine.machineUid === machineUid ? machine.userId : null)
        if (userId === null) return apiError(401, "unauthorized", "sign in, or send this machine's own token")
        if (!(await run(store.revokeMachine({ userId }, machineUid))))
          return apiError(404, "not_found", "no such machine of yours")
        options.closeMachine(userId, machineUid)
        return new Response(null, { status: 204 })
      }
      // Rename: the dashboard, or a laptop's CLI with its own machine's token (`overlord start --name`).
      const rename = /^\/machines\/([^/]+)\/rename$/.exec(path)
      if (rename && req.method === "POST") {
        const machineUid = decodedPath(rename[1]!)
        if (machineUid === null || !MACHINE_ID.test(machineUid)) throw new BadRequest("invalid machine id")
        const machine = actor ? null : await machineBearer(req)
        const userId = actor?.userId ?? (machine && machine.machineUid === machineUid ? machine.userId : null)
        if (userId === null) return apiError(401, "unauthorized", "sign in, or send this machine's own token")
        const input = await body(req, Api.RenameMachineRequest)
        const out = await run(store.renameMachine({ userId }, machineUid, input.name))
        if (out._tag === "NotFound") return apiError(404, "not_found", "no such machine of yours")
        if (out._tag === "Invalid") throw new BadRequest("a machine's name is 1 to 255 characters")
        if (out._tag === "NameTaken")
          return apiError(409, "machine_name_taken", `another of your machines is named ${out.name}`)
        options.machinesChanged?.(userId)
        options.machineRenamed?.(userId, machineUid, out.name)
        return json({ machineId: out.machineId, name: out.name } satisfies Api.RenamedMachine)
      }
      // `overlord open` on a paired laptop: a one-time sign-in link for the machine's user, so a user
      // whose browser session ended gets back in without an admin (API tokens use app.ts's route).
      if (path === "/login-links" && req.method === "POST" && !actor) {
        const machine = await machineBearer(req)
        if (!machine) return undefined
        const link = await run(
          store.issueToken({ userId: machine.userId, kind: "login-link", ttlMs: MACHINE_LOGIN_LINK_TTL_MS }),
        )
        return json({ url: `${originOf(req, url)}/auth?token=${link}` })
      }
      if (!actor) return undefined
      return await signedInRoutes(req, url, path, actor)
    } catch (error) {
      if (error instanceof BadRequest || error instanceof StoreInputError)
        return apiError(400, "bad_request", error.message)
      logRequestFailure(req, error)
      if (isStoreError(error) && isRetryable(error))
        return apiError(503, "unavailable", "the store is unavailable; retry later")
      return internalError()
    }
  }
}
