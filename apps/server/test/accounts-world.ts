/**
 * A real server (Bun.serve on a port, `httpServerLayer`) over SQLite in memory or a fresh MariaDB
 * database, and the users, machines and sessions the account and isolation tests need, made through
 * the HTTP API the way the dashboard and the CLI make them.
 */
import { encodeAppendFrame, Sync } from "@overlord/protocol"
import { type Engine, fromEngine, Store, type Interface as StoreApi } from "@overlord/store"
import { connectMysql2, MysqlEngine } from "@overlord/store/mysql"
import { SqliteEngine } from "@overlord/store/sqlite"
import { testMariaDb } from "@overlord/testkit/mariadb"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { HttpServer, layer as httpServerLayer } from "../src/http-server.ts"

export type EngineName = "sqlite" | "mariadb"

export interface Member {
  readonly userId: number
  readonly email: string
  /** `overlord_session=…` */
  readonly cookie: string
  readonly apiToken: string
}

export interface Answer {
  readonly status: number
  readonly body: unknown
  /** The body as sent (an export's bytes as text). */
  readonly text: string
  readonly res: Response
}

export interface CallOptions {
  readonly method?: string
  readonly body?: unknown
  readonly cookie?: string
  readonly bearer?: string
  readonly headers?: Record<string, string>
}

const enc = new TextEncoder()

export const userLine = (sessionId: string, uuid: string, text: string) =>
  `${JSON.stringify({
    type: "user",
    uuid,
    parentUuid: null,
    sessionId,
    cwd: "/home/dev/proj",
    timestamp: "2026-11-01T10:00:00.000Z",
    isSidechain: false,
    message: { role: "user", content: text },
  })}\n`

export class World {
  private constructor(
    readonly name: EngineName,
    readonly url: string,
    readonly engine: Engine,
    readonly store: StoreApi,
    private readonly scope: Scope.Closeable,
    /** The MariaDB database's URL (null on SQLite): a second server can share it (`peer`). */
    private readonly databaseUrl: string | null = null,
  ) {}

  /** `wrap` may stand between the server and the store (to hold a call at a chosen moment). */
  static async start(
    name: EngineName,
    wrap: (store: StoreApi) => StoreApi = (s) => s,
    /** `dashboard`: serve the built dashboard (`apps/web/dist`), for browser tests. */
    options: { readonly dashboard?: boolean } = {},
  ): Promise<World> {
    const db = name === "sqlite" ? null : testMariaDb()
    const databaseUrl = db === null ? null : db.url(await db.createDatabase())
    const engine: Engine =
      databaseUrl === null
        ? new SqliteEngine({ path: ":memory:" })
        : await MysqlEngine.open(connectMysql2({ url: databaseUrl }))
    const store = wrap(fromEngine(engine))
    const { url, scope } = await World.serve(store, options.dashboard ?? false)
    return new World(name, url, engine, store, scope, databaseUrl)
  }

  private static async serve(store: StoreApi, dashboard = false): Promise<{ url: string; scope: Scope.Closeable }> {
    const scope = await Effect.runPromise(Scope.make())
    const webDir = dashboard ? {} : { webDir: "/nonexistent-web-dir" }
    const layer = httpServerLayer({ hostname: "127.0.0.1", port: 0, ...webDir }).pipe(
      Layer.provide(Layer.succeed(Store, store)),
    )
    const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
    return { url: Context.get(context, HttpServer).url, scope }
  }

  /**
   * A second server on the same MariaDB database, with its own engine and pool, as a second
   * `overlord serve` would be (ARCHITECTURE.md "Several servers, one database"). Not on SQLite.
   */
  async peer(): Promise<World> {
    if (this.databaseUrl === null) throw new Error("a peer server needs MariaDB")
    const engine = await MysqlEngine.open(connectMysql2({ url: this.databaseUrl }))
    const store = fromEngine(engine)
    const { url, scope } = await World.serve(store)
    return new World(this.name, url, engine, store, scope, this.databaseUrl)
  }

  async close(): Promise<void> {
    await Effect.runPromise(Scope.close(this.scope, Exit.void))
    await this.engine.close()
  }

  async call(path: string, options: CallOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers }
    if (options.cookie) headers.cookie = options.cookie
    if (options.bearer) headers.authorization = `Bearer ${options.bearer}`
    if (options.body !== undefined) headers["content-type"] = "application/json"
    const res = await fetch(`${this.url}${path}`, {
      method: options.method ?? (options.body !== undefined ? "POST" : "GET"),
      headers,
      redirect: "manual",
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    })
    const text = await res.clone().text()
    let body: unknown = text
    try {
      body = text ? JSON.parse(text) : null
    } catch {
      // Not JSON (an export): the text.
    }
    return { status: res.status, body, text, res }
  }

  /** The first admin, through the setup link `overlord serve` prints. */
  async setupAdmin(email = "ada@example.com", name = "Ada"): Promise<Member> {
    const link = await this.engine.createAccountLink({ kind: "setup", createdBy: null, role: "admin", ttlMs: 60_000 })
    return this.member(await this.call("/api/v1/setup", { body: { token: link.token, email, name } }), email)
  }

  /** A user invited by `admin`, through the invite link. */
  async invite(admin: Member, email: string, name: string): Promise<Member> {
    const made = await this.call("/api/v1/invites", { cookie: admin.cookie, body: {} })
    if (made.status !== 201) throw new Error(`invite: ${made.status} ${JSON.stringify(made.body)}`)
    const token = new URL((made.body as { url: string }).url).pathname.split("/").pop()!
    return this.member(await this.call("/api/v1/invites/accept", { body: { token, email, name } }), email)
  }

  private async member(answer: Answer, email: string): Promise<Member> {
    if (answer.status !== 200) throw new Error(`sign-up: ${answer.status} ${JSON.stringify(answer.body)}`)
    const cookie = (answer.res.headers.get("set-cookie") ?? "").split(";")[0]!
    const { user } = answer.body as { user: { userId: number } }
    const token = await this.call("/api/v1/tokens", { cookie, body: { label: "tests" } })
    if (token.status !== 201) throw new Error(`token: ${token.status}`)
    return { userId: user.userId, email, cookie, apiToken: (token.body as { token: string }).token }
  }

  /** Pairs a machine for `member` by the device-code flow, approved with the member's cookie. */
  async pair(member: Member, machineId: string): Promise<string> {
    const code = await this.call("/api/v1/device/code", { body: { machineId, machineName: `box ${machineId}` } })
    const { deviceCode, userCode } = code.body as { deviceCode: string; userCode: string }
    const approved = await this.call(`/api/v1/device/${userCode}/approve`, { method: "POST", cookie: member.cookie })
    if (approved.status !== 200) throw new Error(`approve: ${approved.status} ${JSON.stringify(approved.body)}`)
    const token = await this.call("/api/v1/device/token", { body: { deviceCode } })
    if (token.status !== 200) throw new Error(`device token: ${token.status} ${JSON.stringify(token.body)}`)
    return (token.body as { token: string }).token
  }

  /** A sync socket that said hello; `refused` resolves with the server's refusal, if one comes. */
  async syncSocket(token: string, machineId: string, hello: { remote?: Sync.RemoteCapabilities } = {}) {
    const ws = new WebSocket(`${this.url.replace("http", "ws")}/api/v1/sync`)
    ws.binaryType = "arraybuffer"
    const messages: Sync.ServerMessage[] = []
    const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)))
    ws.addEventListener("message", (e) => messages.push(JSON.parse(String(e.data)) as Sync.ServerMessage))
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve()
      ws.onerror = () => reject(new Error("sync socket failed"))
    })
    ws.send(
      JSON.stringify({
        type: "hello",
        protocolVersion: Sync.PROTOCOL_VERSION,
        daemonVersion: "test",
        machineId,
        machineName: "laptop",
        token,
        ...hello,
      }),
    )
    const waitFor = async (pred: (m: Sync.ServerMessage) => boolean, what: string) => {
      const deadline = Date.now() + 10_000
      for (;;) {
        const found = messages.find(pred)
        if (found) return found
        if (Date.now() > deadline) throw new Error(`no ${what}; got ${JSON.stringify(messages)}`)
        await Bun.sleep(5)
      }
    }
    // Each session's file grows from its own offset.
    const offsets = new Map<string, number>()
    let seq = 0
    return {
      ws,
      messages,
      closed,
      waitFor,
      /** Appends whole lines to the session's main file and waits for the ack. */
      async append(sessionId: string, text: string) {
        const payload = enc.encode(text)
        const offset = offsets.get(sessionId) ?? 0
        seq += 1
        const mine = seq
        ws.send(
          encodeAppendFrame(
            {
              type: "append",
              seq: mine,
              fileKey: `-home-dev-proj/${sessionId}.jsonl`,
              generation: 0,
              identity: "1:1",
              fromOffset: offset,
              toOffset: offset + payload.length,
            },
            payload,
          ) as Uint8Array<ArrayBuffer>,
        )
        offsets.set(sessionId, offset + payload.length)
        await waitFor((m) => (m.type === "ack" || m.type === "rejected") && m.seq === mine, `ack ${mine}`)
      },
    }
  }

  /** A machine for `member` with one session of `lines`, synced through the sync socket. */
  async sessionFor(member: Member, machineId: string, sessionId: string, text: string): Promise<string> {
    const token = await this.pair(member, machineId)
    const sync = await this.syncSocket(token, machineId)
    await sync.waitFor((m) => m.type === "welcome", "welcome")
    await sync.append(sessionId, text)
    sync.ws.close()
    await sync.closed
    return token
  }

  /** A dashboard's live socket with `member`'s cookie, subscribed to a session from seq 0. */
  async liveSocket(member: Member, sessionId: string | undefined) {
    const ws = new WebSocket(`${this.url.replace("http", "ws")}/api/v1/live`, {
      headers: { cookie: member.cookie },
    } as unknown as string[])
    const messages: {
      type: string
      sessionId?: string
      entries?: { line: string }[]
      session?: { sessionId: string }
    }[] = []
    ws.onmessage = (e) => messages.push(JSON.parse(String(e.data)))
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve()
      ws.onerror = () => reject(new Error("live socket failed"))
    })
    ws.send(
      JSON.stringify(
        sessionId === undefined ? { type: "subscribe", afterSeq: 0 } : { type: "subscribe", sessionId, afterSeq: 0 },
      ),
    )
    const subscribe = (to: string) => ws.send(JSON.stringify({ type: "subscribe", sessionId: to, afterSeq: 0 }))
    return { ws, messages, subscribe }
  }
}
