/**
 * OpenAPI 3.1 for `/api/v1`, generated from the protocol schemas so the document cannot drift
 * from what the server sends.
 */
import { Api } from "@overlord/protocol"
import { Schema } from "effect"

interface Route {
  readonly path: string
  readonly summary: string
  readonly response: Schema.Top
  readonly params?: readonly [name: string, where: "query" | "path", description: string][]
  readonly contentType?: string
}

const MachineList = Schema.Struct({ machines: Schema.Array(Api.Machine) })
const ProjectList = Schema.Struct({ projects: Schema.Array(Api.Project) })
const EntryWithSession = Schema.Struct({ sessionId: Schema.String, entry: Api.Entry })

const ROUTES: readonly Route[] = [
  { path: "/machines", summary: "Machines and their sync health", response: MachineList },
  { path: "/projects", summary: "Projects with session counts", response: ProjectList },
  {
    path: "/sessions",
    summary: "Sessions, newest activity first, cursor-paginated",
    response: Api.SessionList,
    params: [
      ["project", "query", "encoded project directory"],
      ["machine", "query", "machine id"],
      ["model", "query", "part of a model name, any case (opus matches claude-opus-4-6)"],
      ["from", "query", "ISO date: active at or after"],
      ["to", "query", "ISO date: started at or before"],
      ["hasErrors", "query", "1: only sessions with API or tool errors"],
      ["q", "query", "text in the title, first prompt, cwd or id"],
      ["cursor", "query", "nextCursor of the previous page"],
      ["limit", "query", "page size, at most 1000"],
    ],
  },
  {
    path: "/sessions/{sessionId}",
    summary: "A session and its files",
    response: Api.SessionDetail,
    params: [["sessionId", "path", "session id"]],
  },
  {
    path: "/sessions/{sessionId}/entries",
    summary: "A transcript's entries in file order",
    response: Api.EntryPage,
    params: [
      ["sessionId", "path", "session id"],
      ["agent", "query", "subagent id; omit for the main transcript"],
      ["after", "query", "entries with seq greater than this"],
      ["before", "query", "the page just before this seq"],
      ["limit", "query", "page size, at most 1000"],
    ],
  },
  {
    path: "/sessions/{sessionId}/export",
    summary: "A session file, byte for byte as the source held it",
    response: Schema.String,
    contentType: "application/x-ndjson",
    params: [
      ["sessionId", "path", "session id"],
      ["file", "query", "file key; the main transcript when omitted"],
    ],
  },
  {
    path: "/commands/{commandId}/patch",
    summary:
      "What a sandbox command changed in the project, as a binary git patch to `git apply` (404 when it has none)",
    response: Schema.String,
    contentType: "text/x-diff",
    params: [["commandId", "path", "command id"]],
  },
  {
    path: "/entries/{seq}",
    summary: "One entry, for deep links",
    response: EntryWithSession,
    params: [["seq", "path", "entry sequence number"]],
  },
  {
    path: "/search",
    summary:
      "Search across transcripts: without mode, full text (SearchResult); with mode, one hit per session by words and/or meaning, fused (HybridSearchResult). Sessions other users shared with you are searched too, their hits marked sharedBy (the owner)",
    response: Schema.Union([Api.SearchResult, Api.HybridSearchResult]),
    params: [
      ["q", "query", "words or a quoted phrase"],
      ["limit", "query", "at most 200 (with mode: 100)"],
      ["mode", "query", "hybrid | text | semantic (local AI, issue #13)"],
      ["project", "query", "with mode: encoded project directory"],
      ["machine", "query", "with mode: machine id"],
      ["from", "query", "with mode: ISO date, active at or after"],
      ["to", "query", "with mode: ISO date, started at or before"],
    ],
  },
  {
    path: "/ai/status",
    summary:
      "Local AI: Ollama, the background indexer, the in-process vector index (the index and the indexer's last error for an admin only)",
    response: Api.AiStatus,
  },
  {
    path: "/usage",
    summary: "Deduplicated token usage and cost",
    response: Api.UsageReport,
    params: [
      ["groupBy", "query", "session | project | day | model"],
      ["from", "query", "ISO date"],
      ["to", "query", "ISO date"],
      ["project", "query", "encoded project directory"],
      ["session", "query", "session id"],
      [
        "limit",
        "query",
        "at most this many rows, the first in the report's order (`truncated` says whether there were more; totals cover every row)",
      ],
      ["format", "query", "csv for a CSV download"],
    ],
  },
]

let cached: unknown

export function openApiDocument(): unknown {
  if (cached) return cached
  const paths: Record<string, unknown> = {}
  for (const route of ROUTES) {
    const doc = Schema.toJsonSchemaDocument(route.response)
    paths[`/api/v1${route.path}`] = {
      get: {
        summary: route.summary,
        parameters: (route.params ?? []).map(([name, where, description]) => ({
          name,
          in: where,
          required: where === "path",
          description,
          schema: { type: "string" },
        })),
        responses: {
          "200": {
            description: "OK",
            content: {
              [route.contentType ?? "application/json"]: { schema: { ...doc.schema, $defs: doc.definitions } },
            },
          },
          "401": { description: "No valid session cookie or bearer token" },
        },
      },
    }
  }
  addAccountRoutes(paths)
  addCommandRoutes(paths)
  cached = {
    openapi: "3.1.0",
    info: { title: "Overlord API", version: "1" },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer" },
        cookie: { type: "apiKey", in: "cookie", name: "overlord_session" },
      },
    },
    security: [{ bearer: [] }, { cookie: [] }],
    paths,
  }
  return cached
}

// ---- accounts, pairing and sharing (issue #11; `http-accounts.ts`) ----------------------------------

interface AccountRoute {
  readonly method: "get" | "post" | "delete"
  readonly path: string
  readonly summary: string
  readonly request?: Schema.Top
  /** Absent: no body (204). */
  readonly response?: Schema.Top
  readonly status: "200" | "201" | "204"
  /** Who may call it; `none` routes are rate-limited per client address. */
  readonly auth: "none" | "signed in" | "admin" | "signed in, or the machine's own token"
  /** Refusals beyond 400/401/429, by status: `{ error: { code, message } }` (`Api.ApiError`). */
  readonly refusals?: Readonly<Record<string, string>>
}

const ACCOUNT_ROUTES: readonly AccountRoute[] = [
  { method: "get", path: "/me", summary: "The signed-in user", response: Api.Me, status: "200", auth: "signed in" },
  {
    method: "post",
    path: "/sign-out",
    summary: "Sign the browser out: its session cookie stops working and is cleared",
    status: "204",
    auth: "none",
  },
  {
    method: "post",
    path: "/machines/{machineId}/revoke",
    summary: "Revoke a machine: its tokens stop working and its open sync socket is refused at once",
    status: "204",
    auth: "signed in, or the machine's own token",
  },
  {
    method: "post",
    path: "/machines/{machineId}/rename",
    summary:
      "Rename a machine of yours: unique among your machines (409 machine_name_taken otherwise); its daemon's next connect keeps the name",
    request: Api.RenameMachineRequest,
    response: Api.RenamedMachine,
    status: "200",
    auth: "signed in, or the machine's own token",
    refusals: {
      "404": "not_found: no such live machine of yours",
      "409": "machine_name_taken: another of your machines has this name",
    },
  },
  {
    method: "get",
    path: "/tokens",
    summary: "API tokens and pairing keys (no secrets)",
    response: Api.TokenList,
    status: "200",
    auth: "signed in",
  },
  {
    method: "post",
    path: "/tokens",
    summary: "A new API token, shown once",
    request: Api.CreateTokenRequest,
    response: Api.CreatedToken,
    status: "201",
    auth: "signed in",
  },
  {
    method: "post",
    path: "/tokens/{tokenId}/revoke",
    summary: "Revoke an API token or pairing key",
    status: "204",
    auth: "signed in",
  },
  {
    method: "post",
    path: "/invites",
    summary: "A one-time invite link",
    request: Api.CreateInviteRequest,
    response: Api.CreatedLink,
    status: "201",
    auth: "admin",
  },
  {
    method: "post",
    path: "/invites/accept",
    summary: "Accept an invite: creates the user and signs them in (cookie)",
    request: Api.AcceptLinkRequest,
    response: Api.Me,
    status: "200",
    auth: "none",
  },
  {
    method: "post",
    path: "/setup",
    summary: "The first start's setup link: creates the first admin and signs them in (cookie)",
    request: Api.AcceptLinkRequest,
    response: Api.Me,
    status: "200",
    auth: "none",
  },
  {
    method: "get",
    path: "/links/{token}",
    summary: "Whether a setup or invite link is still usable",
    response: Api.LinkStatus,
    status: "200",
    auth: "none",
  },
  {
    method: "post",
    path: "/pairing-keys",
    summary: "A pairing key for `overlord login <url> --key`, shown once",
    request: Api.CreatePairingKeyRequest,
    response: Api.CreatedPairingKey,
    status: "201",
    auth: "admin",
  },
  {
    method: "post",
    path: "/pairing-keys/redeem",
    summary: "Exchange a pairing key for a machine token (the CLI)",
    request: Api.RedeemPairingKeyRequest,
    response: Api.MachineCredential,
    status: "200",
    auth: "none",
  },
  {
    method: "post",
    path: "/device/code",
    summary: "Start the device-code flow (the CLI)",
    request: Api.PairingMachine,
    response: Api.DeviceCode,
    status: "200",
    auth: "none",
  },
  {
    method: "post",
    path: "/device/token",
    summary: "Poll: 428 pending, 429 slow_down, 200 approved (once), 403 denied, 410 expired",
    request: Api.DeviceTokenRequest,
    response: Api.DeviceTokenResponse,
    status: "200",
    auth: "none",
  },
  {
    method: "get",
    path: "/device/{userCode}",
    summary: "A pairing request, to approve or deny",
    response: Api.DeviceRequest,
    status: "200",
    auth: "signed in",
  },
  {
    method: "post",
    path: "/device/{userCode}/approve",
    summary: "Approve a pairing request",
    response: Api.DeviceRequest,
    status: "200",
    auth: "signed in",
    refusals: {
      "409":
        "not_pending: decided or expired; machine_paired: its machine id is a live machine of yours (revoke that machine first to re-pair it)",
    },
  },
  {
    method: "post",
    path: "/device/{userCode}/deny",
    summary: "Deny a pairing request",
    response: Api.DeviceRequest,
    status: "200",
    auth: "signed in",
  },
  {
    method: "get",
    path: "/sessions/{sessionId}/shares",
    summary: "Who a session of yours is shared with",
    response: Api.SessionShareList,
    status: "200",
    auth: "signed in",
  },
  {
    method: "post",
    path: "/sessions/{sessionId}/shares",
    summary: "Share a session of yours read-only with another user of this server",
    request: Api.ShareRequest,
    response: Api.SessionShare,
    status: "201",
    auth: "signed in",
  },
  {
    method: "delete",
    path: "/sessions/{sessionId}/shares/{userId}",
    summary: "Withdraw a share",
    status: "204",
    auth: "signed in",
  },
  {
    method: "get",
    path: "/shared-sessions",
    summary: "Sessions other users shared with you",
    response: Api.SharedSessionList,
    status: "200",
    auth: "signed in",
  },
]

const jsonContent = (schema: Schema.Top) => {
  const doc = Schema.toJsonSchemaDocument(schema)
  return { "application/json": { schema: { ...doc.schema, $defs: doc.definitions } } }
}

function addAccountRoutes(paths: Record<string, unknown>): void {
  for (const route of ACCOUNT_ROUTES) {
    const key = `/api/v1${route.path}`
    const entry = (paths[key] ?? {}) as Record<string, unknown>
    entry[route.method] = {
      summary: `${route.summary} (${route.auth})`,
      ...(route.auth === "none" ? { security: [] } : {}),
      parameters: [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
        name: m[1],
        in: "path",
        required: true,
        schema: { type: "string" },
      })),
      ...(route.request ? { requestBody: { required: true, content: jsonContent(route.request) } } : {}),
      responses: {
        [route.status]: { description: "OK", ...(route.response ? { content: jsonContent(route.response) } : {}) },
        "400": { description: "The body or a parameter is invalid" },
        ...Object.fromEntries(
          Object.entries(route.refusals ?? {}).map(([status, description]) => [
            status,
            { description, content: jsonContent(Api.ApiError) },
          ]),
        ),
        ...(route.auth === "none"
          ? { "429": { description: "Too many requests from this address" } }
          : { "401": { description: "No valid session cookie or bearer token" } }),
      },
    }
    paths[key] = entry
  }
}

// ---- remote commands (`http-commands.ts`) -------------------------------------------------------------

interface CommandRoute {
  readonly method: "get" | "post"
  readonly path: string
  readonly summary: string
  readonly request?: Schema.Top
  readonly response: Schema.Top
  readonly status: "200" | "201" | "202"
  readonly query?: readonly [name: string, description: string][]
}

const COMMAND_ROUTES: readonly CommandRoute[] = [
  {
    method: "post",
    path: "/commands",
    summary:
      "Ask one of your machines to run Claude Code in one of its projects; queued while it is offline, until expiresInMs (default 1 h)",
    request: Api.CreateCommandRequest,
    response: Api.CommandCreated,
    status: "201",
  },
  {
    method: "get",
    path: "/commands",
    summary: "Commands, newest first",
    response: Api.CommandList,
    status: "200",
    query: [
      ["machineId", "only this machine's"],
      ["sessionId", "the commands that produced or continued this session"],
      ["limit", "at most 500"],
    ],
  },
  {
    method: "get",
    path: "/commands/{commandId}",
    summary: "A command and its events so far (live: watch-command on /api/v1/live)",
    response: Api.CommandDetail,
    status: "200",
  },
  {
    method: "post",
    path: "/commands/{commandId}/input",
    summary: "A follow-up message, a permission answer or a cancel for a running command",
    request: Api.CommandInputRequest,
    response: Api.CommandCreated,
    status: "202",
  },
]

function addCommandRoutes(paths: Record<string, unknown>): void {
  for (const route of COMMAND_ROUTES) {
    const key = `/api/v1${route.path}`
    const entry = (paths[key] ?? {}) as Record<string, unknown>
    entry[route.method] = {
      summary: route.summary,
      parameters: [
        ...[...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
          name: m[1],
          in: "path",
          required: true,
          schema: { type: "string" },
        })),
        ...(route.query ?? []).map(([name, description]) => ({
          name,
          in: "query",
          required: false,
          description,
          schema: { type: "string" },
        })),
      ],
      ...(route.request ? { requestBody: { required: true, content: jsonContent(route.request) } } : {}),
      responses: {
        [route.status]: { description: "OK", content: jsonContent(route.response) },
        "4XX": {
          description:
            "Refused or not found, with a typed reason (remote-disabled, machine-not-found, path-escape, prompt-too-long, concurrency-limit, ...)",
          content: jsonContent(Api.CommandErrorResponse),
        },
        "401": { description: "No valid session cookie or bearer token" },
      },
    }
    paths[key] = entry
  }
}
