/**
 * The server's request handling for Bun.serve: the sync socket, the live socket, the API, the
 * login link and the dashboard's static files. `fetch` is callable without a port for tests.
 */
import { existsSync, readFileSync, statSync } from "node:fs"
import { extname, join, normalize } from "node:path"
import { fileURLToPath } from "node:url"
import { Live } from "@overlord/protocol"
import type { Actor, Interface as StoreApi } from "@overlord/store"
import type { Server, ServerWebSocket } from "bun"
import { Effect, Schema } from "effect"
import type { AiService } from "./ai-service.ts"
import {
  type AccessPolicy,
  authenticate,
  BROWSER_SESSION_TTL_MS,
  clearedSessionCookie,
  hostAllowed,
  MAX_COOKIE_CANDIDATES,
  originAllowed,
  readCookies,
  SESSION_COOKIE,
  sessionCookie,
} from "./auth.ts"
import { clientAddress } from "./client-address.ts"
import { CommandRelay } from "./command-relay.ts"
import { makeAccountRoutes, RateLimiter } from "./http-accounts.ts"
import { apiError, decodedPath, handleApi, internalError, logRequestFailure } from "./http-api.ts"
import { handleCommands } from "./http-commands.ts"
import { LiveHub } from "./live-hub.ts"
import { MAX_FRAME_BYTES, openSyncConnection, type SyncConnection, SyncPresence } from "./sync-socket.ts"

export interface AppOptions {
  readonly store: StoreApi
  readonly policy: AccessPolicy
  /** Built dashboard (`apps/web/dist`); a minimal page is served when it is missing. */
  readonly webDir?: string
  readonly secureCookies?: boolean
  /** Local AI (issue #13): hybrid search, its status, generated titles; absent without Ollama. */
  readonly ai?: AiService
}

/**
 * Sync sockets one client address may hold before their hello is accepted. A sync socket needs no
 * Origin and no credential until its hello, and waits 10 s for it: without a bound anyone reaching the
 * port could hold any number (security-audit). A daemon says hello within milliseconds of connecting,
 * so 64 leaves room for a fleet behind one address reconnecting at once; a refused one retries after
 * its backoff. Behind a proxy without `--trust-proxy` every client is the proxy's address.
 */
export const MAX_PENDING_SYNC_PER_ADDRESS = 64

export type SocketData =
  | { readonly kind: "sync"; conn?: SyncConnection; readonly address: string }
  | { readonly kind: "live"; readonly actor: Actor; watcher?: ReturnType<LiveHub["add"]> }

/** Set at build time by scripts/build-binary.ts: where the executable embeds the dashboard. */
declare const OVERLORD_WEB_DIR_FROM_MODULE: string | undefined
// From apps/server/src and from the daemon bundle in apps/overlord/dist alike, two levels up then
// web/dist; in the single executable, the folder embedded beside the code (read with the same calls).
export const DEFAULT_WEB_DIR = fileURLToPath(
  new URL(
    typeof OVERLORD_WEB_DIR_FROM_MODULE === "string" ? OVERLORD_WEB_DIR_FROM_MODULE : "../../web/dist",
    import.meta.url,
  ),
)

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
}

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "content-security-policy":
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
}

/**
 * Every answer, not only the dashboard's files: API answers hold transcripts, usage and commands, and
 * had no `cache-control` (a proxy in front of `--public-url`, or the browser's disk cache, could keep
 * them) nor `nosniff`/`frame-ancestors`; the sign-in redirect carries a one-time token in its URL.
 * Headers a route set (the dashboard's files' caching) are kept; anything else is `no-store`.
 */
function withSecurityHeaders(response: Response): Response {
  const headers = response.headers
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) if (!headers.has(name)) headers.set(name, value)
  if (!headers.has("cache-control")) headers.set("cache-control", "no-store")
  return response
}

const decodeClient = Schema.decodeUnknownExit(Live.ClientMessageFromJson)
/** The largest message a dashboard sends on the live socket (`Live.ClientMessage`), with room to spare. */
const MAX_LIVE_MESSAGE_CHARS = 4 * 1024
export const LOGIN_LINK_TTL_MS = 24 * 3600 * 1000

export function makeApp(options: AppOptions) {
  const { store, policy } = options
  const hub = new LiveHub(store)
  const presence = new SyncPresence()
  const commands = new CommandRelay(store, hub)
  const accountRoutes = makeAccountRoutes({
    store,
    policy,
    secureCookies: options.secureCookies ?? false,
    closeMachine: (u, m) => presence.revoke(SyncPresence.key(u, m)),
    shareWithdrawn: (owner, sessionId, grantee) => hub.shareWithdrawn(owner, sessionId, grantee),
    machinesChanged: (userId) => hub.machinesChanged(userId),
    machineRenamed: (userId, machineUid, name) => presence.renamed(SyncPresence.key(userId, machineUid), name),
  })
  const webDir = options.webDir ?? DEFAULT_WEB_DIR

  /** `pathname` is decoded already (`decodedPath`). */
  const staticFile = (pathname: string): Response | null => {
    const rel = normalize(pathname).replace(/^(\.\.[/\\])+/, "")
    const file = join(webDir, rel)
    if (!file.startsWith(webDir) || !existsSync(file) || !statSync(file).isFile()) return null
    return new Response(readFileSync(file), {
      headers: {
        "content-type": MIME[extname(file)] ?? "application/octet-stream",
        "cache-control": rel.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
        ...SECURITY_HEADERS,
      },
    })
  }

  const indexPage = async (actor: Actor | null): Promise<Response> => {
    if (!actor) {
      // The dashboard shell holds no data: serve it so the app itself explains how to sign in
      // (its API calls answer 401), and deep links keep their #route for after sign-in.
      const shell = staticFile("/index.html")
      if (shell) return shell
      return new Response(
        "<!doctype html><title>Overlord</title><p>Not signed in. Open the link printed by <code>overlord start</code> (or <code>overlord open</code>).</p>",
        { status: 401, headers: { "content-type": "text/html; charset=utf-8", ...SECURITY_HEADERS } },
      )
    }
    const built = staticFile("/index.html")
    if (built) return built
    // Without a dashboard build, a plain list of sessions.
    const list = await Effect.runPromise(store.listSessions(actor, { limit: 200 }))
    const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)
    const rows = list.sessions
      .map(
        (s) =>
          `<tr><td>${esc(s.lastAt ?? "")}</td><td>${esc(s.cwd ?? s.projectDir)}</td><td>${esc(s.title ?? s.sessionId)}</td><td>${s.entryCount}</td></tr>`,
      )
      .join("")
    return new Response(
      `<!doctype html><meta charset="utf-8"><title>Overlord</title><h1>Sessions</h1><table data-testid="sessions"><tr><th>Last activity</th><th>Project</th><th>Title</th><th>Entries</th></tr>${rows}</table>`,
      { headers: { "content-type": "text/html; charset=utf-8", ...SECURITY_HEADERS } },
    )
  }

  /** Per client address, its sync sockets not yet seen signed in (each leaves at its close or once seen). */
  const pendingSync = new Map<string, Set<SocketData & { kind: "sync" }>>()
  const syncSockets = (address: string) => {
    const set = pendingSync.get(address) ?? new Set()
    pendingSync.set(address, set)
    return set
  }
  const syncRefusalsLogged = new RateLimiter(1, 1 / 60)
  const forgetSync = (data: SocketData & { kind: "sync" }) => {
    const set = pendingSync.get(data.address)
    if (set?.delete(data) && set.size === 0) pendingSync.delete(data.address)
  }
  /** How many of `address`'s sync sockets have not said a good hello; the signed-in ones are dropped. */
  const preHello = (address: string): number => {
    const set = pendingSync.get(address)
    if (!set) return 0
    for (const data of set) if (data.conn?.signedIn()) forgetSync(data)
    return pendingSync.get(address)?.size ?? 0
  }

  const route = async (req: Request, server?: Server<SocketData>): Promise<Response | undefined> => {
    if (!hostAllowed(policy, req)) {
      return apiError(421, "bad_host", "this server does not answer to that Host (DNS rebinding protection)")
    }
    const url = new URL(req.url)
    const upgrade = req.headers.get("upgrade")?.toLowerCase() === "websocket"

    if (url.pathname === "/api/v1/sync") {
      if (!upgrade || !server) return apiError(426, "upgrade_required", "the sync endpoint is a WebSocket")
      if (!originAllowed(policy, req)) return apiError(403, "bad_origin", "cross-origin sync refused")
      const address = clientAddress(
        server.requestIP(req)?.address ?? "direct",
        req.headers.get("x-forwarded-for"),
        policy.trustedProxies,
      )
      if (preHello(address) >= MAX_PENDING_SYNC_PER_ADDRESS) {
        // As the account routes' refusals: logged at most once a minute per address.
        if (syncRefusalsLogged.take(address))
          Effect.runFork(Effect.logWarning(`too many sync sockets before their hello; refused (from ${address})`))
        return apiError(429, "rate_limited", "too many sync connections from this address; retry later")
      }
      const data: SocketData & { kind: "sync" } = { kind: "sync", address }
      syncSockets(address).add(data)
      if (server.upgrade(req, { data })) return undefined
      forgetSync(data)
      return apiError(400, "upgrade_failed", "")
    }

    if (url.pathname === "/auth") {
      const token = url.searchParams.get("token") ?? ""
      // Login CSRF: another site linking (or redirecting) here with its author's own sign-in link signed
      // the visitor's browser in as that author, silently; a device code the visitor then approved
      // paired their laptop to the author's account, and its transcripts synced there. A browser says
      // where a navigation came from (`Sec-Fetch-Site`): from another site the link is not used, only
      // offered behind a button, which sends it again from this origin. The terminal's link (`overlord
      // start`, `open`) and a pasted one arrive as `none`; clients that send no such header are unchanged.
      const site = req.headers.get("sec-fetch-site")
      if (token && (site === "cross-site" || site === "same-site")) {
        const esc = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
        return new Response(
          `<!doctype html><meta charset="utf-8"><title>Overlord</title><form method="get" action="/auth" data-testid="auth-link-confirm"><p>Another site sent you to sign in to this Overlord server. Continue only if you asked for this link (<code>overlord start</code> or <code>overlord open</code> printed it).</p><input type="hidden" name="token" value="${esc(token)}"><button type="submit">Sign in</button></form>`,
          { headers: { "content-type": "text/html; charset=utf-8" } },
        )
      }
      const grant = token ? await Effect.runPromise(store.consumeToken(token, "login-link")) : null
      if (!grant) {
        return new Response(
          '<!doctype html><meta charset="utf-8"><title>Overlord</title><p data-testid="auth-link-refused">This sign-in link is invalid, expired or already used. Run <code>overlord open</code> for a new one.</p>',
          { status: 401, headers: { "content-type": "text/html; charset=utf-8", ...SECURITY_HEADERS } },
        )
      }
      const browser = await Effect.runPromise(
        store.issueToken({ userId: grant.userId, kind: "browser", ttlMs: BROWSER_SESSION_TTL_MS }),
      )
      return new Response(null, {
        status: 302,
        headers: { location: "/", "set-cookie": sessionCookie(browser, options.secureCookies ?? false) },
      })
    }

    const assetPath =
      url.pathname.startsWith("/assets/") || /^\/[\w.-]+\.(js|css|svg|png|ico|woff2)$/.test(url.pathname)
    if (req.method === "GET" && assetPath) {
      const path = decodedPath(url.pathname)
      if (path === null) return apiError(400, "bad_request", "the path has a malformed %-escape")
      return staticFile(path) ?? new Response("not found", { status: 404 })
    }

    const actor = await authenticate(store, req)
    const accountResponse = await accountRoutes(req, url, actor, server as Server<unknown> | undefined)
    if (accountResponse) return accountResponse

    // Sign-out: the browser session cookie (30 days) could not be ended, on a shared or borrowed browser
    // either. Every session cookie the request carries is used up (`consumeToken`: `verifyToken` refuses a
    // used token), whoever's it is, and the cookie cleared. Same Origin rule as every other POST.
    if (url.pathname === "/api/v1/sign-out") {
      if (req.method !== "POST") return apiError(405, "method_not_allowed", "POST to sign out")
      if (!originAllowed(policy, req)) return apiError(403, "bad_origin", "cross-origin request")
      for (const token of readCookies(req, SESSION_COOKIE).slice(0, MAX_COOKIE_CANDIDATES)) {
        if (token) await Effect.runPromise(store.consumeToken(token, "browser"))
      }
      return new Response(null, {
        status: 204,
        headers: { "set-cookie": clearedSessionCookie(options.secureCookies ?? false) },
      })
    }

    // A fresh one-time sign-in link, for `overlord open`. Bearer only: a cookie must not mint links.
    if (url.pathname === "/api/v1/login-links") {
      if (req.method !== "POST") return apiError(405, "method_not_allowed", "POST to create a sign-in link")
      if (!actor || !req.headers.get("authorization"))
        return apiError(401, "unauthorized", "a bearer token is required")
      const link = await Effect.runPromise(
        store.issueToken({ userId: actor.userId, kind: "login-link", ttlMs: LOGIN_LINK_TTL_MS }),
      )
      // Behind the proxy the request's own URL is the proxy's upstream (http, maybe another host).
      const publicUrl = policy.publicUrl
      const origin =
        publicUrl && publicUrl.host === req.headers.get("host")?.toLowerCase() ? publicUrl.origin : url.origin
      return new Response(JSON.stringify({ url: `${origin}/auth?token=${link}` }), {
        headers: { "content-type": "application/json" },
      })
    }

    if (url.pathname === "/api/v1/live") {
      // Origin and credentials first: a cross-site page learns nothing, whatever else it sends.
      if (!originAllowed(policy, req)) return apiError(403, "bad_origin", "cross-origin WebSocket refused")
      if (!actor) return apiError(401, "unauthorized", "sign in first")
      if (!upgrade || !server) return apiError(426, "upgrade_required", "the live feed is a WebSocket")
      return server.upgrade(req, { data: { kind: "live", actor } }) ? undefined : apiError(400, "upgrade_failed", "")
    }

    if (url.pathname.startsWith("/api/v1/")) {
      if (!actor)
        return apiError(401, "unauthorized", "sign in with the link `overlord start` printed, or send a bearer token")
      if (req.method !== "GET" && !originAllowed(policy, req))
        return apiError(403, "bad_origin", "cross-origin request")
      if (url.pathname === "/api/v1/commands" || url.pathname.startsWith("/api/v1/commands/"))
        return handleCommands(store, commands, actor, req, url)
      return handleApi(store, actor, req, url, options.ai)
    }

    if (req.method === "GET") return indexPage(actor)
    return apiError(404, "not_found", "not found")
  }

  /**
   * Every request ends in a response that tells nothing of the server: an unexpected failure is
   * logged here and answered with a generic 500 (never its message, stack or paths).
   */
  const fetch = async (req: Request, server?: Server<SocketData>): Promise<Response | undefined> => {
    let response: Response | undefined
    try {
      response = await route(req, server)
    } catch (error) {
      logRequestFailure(req, error)
      response = internalError()
    }
    return response && withSecurityHeaders(response)
  }

  const websocket = {
    maxPayloadLength: MAX_FRAME_BYTES + 64 * 1024,
    idleTimeout: 120,
    open(ws: ServerWebSocket<SocketData>) {
      const data = ws.data
      if (data.kind === "sync") {
        data.conn = openSyncConnection(ws, store, hub, presence, commands)
      } else {
        data.watcher = hub.add(ws, data.actor)
      }
    },
    message(ws: ServerWebSocket<SocketData>, message: string | Buffer) {
      const data = ws.data
      if (data.kind === "sync") {
        // A view, not a copy: frames are up to 8 MB.
        data.conn?.onMessage(
          typeof message === "string"
            ? message
            : new Uint8Array(message.buffer, message.byteOffset, message.byteLength),
        )
        return
      }
      if (typeof message !== "string" || !data.watcher) return
      // A dashboard's messages are under 300 bytes; the socket limit (8 MiB) is the sync socket's.
      if (message.length > MAX_LIVE_MESSAGE_CHARS) {
        ws.close(1009, "message too big")
        return
      }
      const exit = decodeClient(message)
      if (exit._tag === "Failure") {
        ws.send(JSON.stringify({ type: "error", message: "invalid message" }))
        return
      }
      if (exit.value.type === "watch-command") commands.watch(ws, data.actor, exit.value)
      else hub.subscribe(data.watcher, exit.value)
    },
    close(ws: ServerWebSocket<SocketData>) {
      const data = ws.data
      if (data.kind === "sync") {
        forgetSync(data)
        data.conn?.onClose()
      } else if (data.watcher) {
        hub.remove(data.watcher)
        commands.unwatchAll(ws)
      }
    },
  }

  return { fetch, websocket, hub, commands }
}
