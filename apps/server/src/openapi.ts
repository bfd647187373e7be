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
      ["model", "query", "model name"],
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
    path: "/entries/{seq}",
    summary: "One entry, for deep links",
    response: EntryWithSession,
    params: [["seq", "path", "entry sequence number"]],
  },
  {
    path: "/search",
    summary: "Full-text search across transcripts",
    response: Api.SearchResult,
    params: [
      ["q", "query", "words or a quoted phrase"],
      ["limit", "query", "at most 200"],
    ],
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
