/**
 * PlanetScale's HTTP API in front of a local MariaDB, so tests and benchmarks run the real, unmodified
 * `@planetscale/database` driver (1.20.2). The wire protocol and its checklist are in
 * `../shared/reference/planetscale-http.md` (§10); the section numbers below refer to it.
 *
 *   const bridge = await startPlanetScaleBridge({ mariadb: testMariaDb(), database })
 *   const conn = connect({ url: bridge.url })
 *
 * Each PlanetScale session is one MySQL connection (a transaction lives on it from BEGIN to COMMIT),
 * requests on one session run one at a time, and idle sessions are closed. Statements run through
 * mysql2's text protocol with every value kept as raw bytes, as Vitess sends them. PlanetScale's limits
 * apply by default (100k rows, 64 MiB per query and per result) and answer as PlanetScale does.
 *
 * The largest BLOB the driver can write in one statement: it sends a `Uint8Array` as `x'<hex>'`, so
 * (64 MiB - the rest of the statement) / 2; measured, `INSERT INTO b VALUES (?, ?)` round-trips
 * 33,554,416 bytes. The driver needs ~100 bytes of memory per blob byte to encode and decode it
 * (16 MiB: 1.6 GB), so values of 1 MiB or less are what it handles comfortably.
 */
import { randomBytes, randomUUID } from "node:crypto"
import type { FieldPacket, ResultSetHeader } from "mysql2"
import mysql from "mysql2/promise"
import type { MariaDbFacts } from "./mariadb.ts"

export interface PlanetScaleBridgeOptions {
  readonly mariadb: MariaDbFacts
  /** The database every session uses (PlanetScale's credentials belong to one database branch). */
  readonly database: string
  /** Added to every request before it is answered: a laptop-to-cloud round trip (the benchmark uses 20 ms). */
  readonly latencyMs?: number
  /** Largest query, in UTF-8 bytes (PlanetScale: 64 MiB, its gRPC message limit). */
  readonly maxRequestBytes?: number
  /** Most rows a query may return (PlanetScale: 100,000; its limit on rows a DML statement touches is not modelled). */
  readonly maxRows?: number
  /** Largest result, in value bytes (PlanetScale: 64 MiB). */
  readonly maxResultBytes?: number
  /** A session unused this long loses its connection, and with it any open transaction (ps-http-sim: 10 s). */
  readonly sessionIdleMs?: number
  /**
   * Most sessions holding a connection at once: past it, the least recently used idle session outside a
   * transaction gives its connection back (with its user variables, as an expired session does).
   * `Client.execute` starts a new session on every call, and each would otherwise hold a MariaDB
   * connection for `sessionIdleMs`. Default 64.
   */
  readonly maxSessions?: number
}

/** An answer to send instead of running the next request (auth or quota failures). */
export interface BridgeFault {
  readonly status: number
  readonly body: unknown
}

export interface PlanetScaleBridge {
  /** `http://user:password@127.0.0.1:port`, for `connect({ url })`. */
  readonly url: string
  readonly port: number
  /** Answers the next request (of any route) with this status and JSON body; faults queue up in order. */
  readonly failNext: (fault: BridgeFault) => void
  /** HTTP requests received so far, of every route. */
  readonly requestCount: () => number
  /** Sessions that hold a MariaDB connection now. */
  readonly openSessions: () => number
  readonly stop: () => Promise<void>
}

export const PLANETSCALE_MAX_ROWS = 100_000
export const PLANETSCALE_MAX_MESSAGE_BYTES = 64 * 1024 * 1024

const ROUTE_PREFIX = "/psdb.v1alpha1.Database/"

// ---- types (§4) -----------------------------------------------------------------------------------

const UNSIGNED_FLAG = 32
const BINARY_FLAG = 128
const ENUM_FLAG = 256
const SET_FLAG = 2048
const BINARY_CHARSET = 63

/** MySQL wire type → Vitess type (`go/sqltypes/type.go`, `mysqlToType`). */
const WIRE_TYPES: Readonly<Record<number, string>> = {
  0: "DECIMAL",
  1: "INT8",
  2: "INT16",
  3: "INT32",
  4: "FLOAT32",
  5: "FLOAT64",
  6: "NULL_TYPE",
  7: "TIMESTAMP",
  8: "INT64",
  9: "INT24",
  10: "DATE",
  11: "TIME",
  12: "DATETIME",
  13: "YEAR",
  15: "VARCHAR",
  16: "BIT",
  17: "TIMESTAMP",
  18: "DATETIME",
  19: "TIME",
  245: "JSON",
  246: "DECIMAL",
  247: "ENUM",
  248: "SET",
  249: "TEXT",
  250: "TEXT",
  251: "TEXT",
  252: "TEXT",
  253: "VARCHAR",
  254: "CHAR",
  255: "GEOMETRY",
}

const UNSIGNED_TYPES: Readonly<Record<string, string>> = {
  INT8: "UINT8",
  INT16: "UINT16",
  INT24: "UINT24",
  INT32: "UINT32",
  INT64: "UINT64",
}
const BINARY_TYPES: Readonly<Record<string, string>> = {
  TEXT: "BLOB",
  VARCHAR: "VARBINARY",
  CHAR: "BINARY",
  YEAR: "VARBINARY",
}

/** Vitess' `MySQLToType` (`modifyType`): the wire type, then the unsigned, binary, enum and set flags. */
export function vitessType(wireType: number, flags: number): string {
  const base = WIRE_TYPES[wireType]
  if (base === undefined) throw new Error(`MySQL wire type ${wireType} has no Vitess type`)
  if (flags & UNSIGNED_FLAG && UNSIGNED_TYPES[base] !== undefined) return UNSIGNED_TYPES[base]
  if (flags & BINARY_FLAG && BINARY_TYPES[base] !== undefined) return BINARY_TYPES[base]
  if (base === "CHAR" && flags & ENUM_FLAG) return "ENUM"
  if (base === "CHAR" && flags & SET_FLAG) return "SET"
  return base
}

interface WireField {
  name: string
  type?: string
  table?: string
  orgTable?: string
  database?: string
  orgName?: string
  columnLength?: number
  charset?: number
  decimals?: number
  flags?: number
}

function toWireField(f: FieldPacket): WireField {
  const flags = typeof f.flags === "number" ? f.flags : 0
  // MariaDB's JSON is LONGTEXT (wire type 252, utf8mb4_bin) and would reach the driver as BLOB, a
  // string; its extended metadata says `json` (for columns and for JSON_OBJECT() alike), and PlanetScale
  // reports JSON there, which the driver parses (§10).
  const isJson = f.extendedFormat === "json"
  const type = isJson ? "JSON" : vitessType(f.columnType ?? 6, flags)
  const out: WireField = { name: f.name }
  if (type !== "NULL_TYPE") out.type = type // proto3 JSON omits enum 0 (§3)
  if (f.table) out.table = f.table
  if (f.orgTable) out.orgTable = f.orgTable
  if (f.schema) out.database = f.schema
  if (f.orgName) out.orgName = f.orgName
  if (f.columnLength) out.columnLength = f.columnLength
  const charset = isJson ? BINARY_CHARSET : f.characterSet // golden PlanetScale JSON: charset 63
  if (charset) out.charset = charset
  if (f.decimals) out.decimals = f.decimals
  if (flags) out.flags = flags
  return out
}

// ---- errors (§5) ----------------------------------------------------------------------------------

const ERRNO_CODES: Readonly<Record<number, string>> = {
  1146: "NOT_FOUND",
  1054: "NOT_FOUND",
  1109: "NOT_FOUND",
  1062: "ALREADY_EXISTS",
  1050: "ALREADY_EXISTS",
  1044: "PERMISSION_DENIED",
  1045: "PERMISSION_DENIED",
  1227: "PERMISSION_DENIED",
  1213: "ABORTED",
  1205: "DEADLINE_EXCEEDED",
  1235: "UNIMPLEMENTED",
  1046: "FAILED_PRECONDITION",
  1169: "FAILED_PRECONDITION",
  1364: "FAILED_PRECONDITION",
  1451: "FAILED_PRECONDITION",
  1452: "FAILED_PRECONDITION",
  1242: "FAILED_PRECONDITION",
  1048: "INVALID_ARGUMENT",
  1049: "INVALID_ARGUMENT",
  1064: "INVALID_ARGUMENT",
  1149: "INVALID_ARGUMENT",
  1136: "INVALID_ARGUMENT",
  1264: "INVALID_ARGUMENT",
  1292: "INVALID_ARGUMENT",
  1366: "INVALID_ARGUMENT",
  1406: "INVALID_ARGUMENT",
}

interface RpcError {
  readonly code: string
  readonly message: string
}

interface SqlError {
  readonly errno: number
  readonly sqlState?: string
  readonly sqlMessage?: string
}

const isSqlError = (e: unknown): e is SqlError =>
  typeof e === "object" && e !== null && "errno" in e && typeof e.errno === "number" && "sqlMessage" in e

/** Vitess' text for a MySQL error (`sqlerror.SQLError.Error()`) and PlanetScale's code for its errno. */
function rpcErrorOf(e: SqlError): RpcError {
  return {
    code: ERRNO_CODES[e.errno] ?? "UNKNOWN",
    message: `${e.sqlMessage ?? ""} (errno ${e.errno}) (sqlstate ${e.sqlState ?? "HY000"})`,
  }
}

// ---- sessions (§6) --------------------------------------------------------------------------------

interface VitessSession {
  autocommit: boolean
  targetString: string
  options: { includedFields: "ALL"; clientFoundRows: true }
  DDLStrategy: "direct"
  SessionUUID: string
  enableSystemSettings: true
  inTransaction?: true
  lastInsertId?: string
  foundRows?: string
  rowCount?: string
}

interface WireSession {
  signature: string
  vitessSession: VitessSession
}

interface Session {
  readonly uuid: string
  wire: WireSession
  connection: Promise<mysql.Connection> | undefined
  /** The tail of this session's request queue: each request waits for the one before (§6). */
  queue: Promise<void>
  pending: number
  lastUsed: number
  idleTimer: ReturnType<typeof setTimeout> | undefined
}

/** mysql2 keeps the server status of the last OK packet on the connection (bit 0: in a transaction). */
const SERVER_STATUS_IN_TRANS = 1
const serverStatusOf = (conn: mysql.Connection): number => {
  const inner = (conn as unknown as { connection?: { serverStatus?: number } }).connection
  return inner?.serverStatus ?? 0
}

function sessionUuidOf(raw: unknown): string | undefined {
  if (typeof raw !== "object" || raw === null || !("vitessSession" in raw)) return undefined
  const vs = raw.vitessSession
  if (typeof vs !== "object" || vs === null || !("SessionUUID" in vs)) return undefined
  return typeof vs.SessionUUID === "string" ? vs.SessionUUID : undefined
}

const wasInTransaction = (raw: unknown): boolean =>
  typeof raw === "object" &&
  raw !== null &&
  "vitessSession" in raw &&
  typeof raw.vitessSession === "object" &&
  raw.vitessSession !== null &&
  "inTransaction" in raw.vitessSession &&
  raw.vitessSession.inTransaction === true

// ---- results (§3, §10) ----------------------------------------------------------------------------

interface WireRow {
  lengths: string[]
  values?: string
}

interface WireResult {
  fields?: WireField[]
  rows?: WireRow[]
  rowsAffected?: string
  insertId?: string
}

/** An answer Vitess gives itself, not MySQL: a limit reached, a transaction lost. */
class RpcFailure extends Error {
  constructor(readonly rpc: RpcError) {
    super(rpc.message)
    this.name = "RpcFailure"
  }
}

function encodeRows(rows: ReadonlyArray<ReadonlyArray<Buffer | null>>, maxResultBytes: number): WireRow[] {
  const out: WireRow[] = []
  let total = 0
  for (const row of rows) {
    const lengths: string[] = []
    const parts: Buffer[] = []
    for (const value of row) {
      if (value === null) {
        lengths.push("-1")
      } else {
        lengths.push(String(value.length))
        if (value.length > 0) parts.push(value)
        total += value.length
      }
    }
    if (total > maxResultBytes) {
      // Vitess' gRPC limit, as PlanetScale reports it (system limits page: "received message larger than max").
      throw new RpcFailure({
        code: "RESOURCE_EXHAUSTED",
        message: `grpc: received message larger than max (${total} vs. ${maxResultBytes})`,
      })
    }
    const wire: WireRow = { lengths }
    if (parts.length > 0) wire.values = Buffer.concat(parts).toString("base64")
    out.push(wire)
  }
  return out
}

// ---- the server -----------------------------------------------------------------------------------

const json = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } })

function credentialsOf(req: Request): { user: string; password: string } | undefined {
  const header = req.headers.get("authorization")
  if (header === null || !header.startsWith("Basic ")) return undefined
  const decoded = Buffer.from(header.slice(6), "base64").toString("utf8")
  const colon = decoded.indexOf(":")
  if (colon < 0) return undefined
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

export async function startPlanetScaleBridge(options: PlanetScaleBridgeOptions): Promise<PlanetScaleBridge> {
  const { mariadb, database } = options
  const latencyMs = options.latencyMs ?? 0
  const maxRequestBytes = options.maxRequestBytes ?? PLANETSCALE_MAX_MESSAGE_BYTES
  const maxRows = options.maxRows ?? PLANETSCALE_MAX_ROWS
  const maxResultBytes = options.maxResultBytes ?? PLANETSCALE_MAX_MESSAGE_BYTES
  const sessionIdleMs = options.sessionIdleMs ?? 10_000
  const maxSessions = options.maxSessions ?? 64
  const faults: BridgeFault[] = []
  const sessions = new Map<string, Session>()
  let requests = 0
  let stopped = false

  const connect = () =>
    mysql.createConnection({
      host: mariadb.host,
      port: mariadb.port,
      user: mariadb.user,
      password: mariadb.password,
      database,
      charset: "UTF8MB4_UNICODE_CI",
      multipleStatements: false,
      supportBigNumbers: true,
    })

  const closeConnection = (session: Session): void => {
    const conn = session.connection
    session.connection = undefined
    if (session.idleTimer !== undefined) clearTimeout(session.idleTimer)
    session.idleTimer = undefined
    // Closing the connection rolls back an open transaction, as PlanetScale's transaction timeout does.
    conn?.then((c) => c.destroy()).catch(() => undefined)
  }

  const openConnections = () => [...sessions.values()].filter((s) => s.connection !== undefined)

  /**
   * Connections no session holds, as vtgate keeps tablet connections: a request that arrives without a
   * session and leaves none open (an autocommit statement, no transaction, no session variable, no lock)
   * gives its connection back here, and the next such request takes it instead of opening one (which
   * PlanetScale never does per request). With 20 ms of latency at load 7, p50: SELECT 1 25.3 -> 24.0 ms,
   * two at once (the usage report's rows and totals) 27.5 -> 23.5 ms.
   */
  const pool: mysql.Connection[] = []
  const dead = (c: mysql.Connection) =>
    (c as unknown as { _fatalError?: unknown })._fatalError != null ||
    (c as unknown as { _closing?: boolean })._closing === true
  const fromPool = (): mysql.Connection | undefined => {
    for (let c = pool.pop(); c !== undefined; c = pool.pop()) {
      if (!dead(c)) return c
      c.destroy()
    }
    return undefined
  }
  /** Which session holds a connection (its error handler is attached once, when it is opened). */
  const holder = new WeakMap<mysql.Connection, { session: Session; connection: Promise<mysql.Connection> }>()
  /** Gives a session's connection back to the pool (or closes it when the pool is full). */
  const release = (session: Session): void => {
    const held = session.connection
    session.connection = undefined
    held
      ?.then((c) => {
        holder.delete(c)
        if (!stopped && !dead(c) && pool.length < maxSessions) pool.push(c)
        else c.destroy()
      })
      .catch(() => undefined)
  }
  /** A statement whose connection keeps no state for the session: nothing to lose by sharing it. */
  const sharable = (query: string) =>
    /^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|WITH)\b/i.test(query) && !/GET_LOCK|@/i.test(query)

  /** Frees one connection when `maxSessions` hold one: the least recently used idle one outside a transaction. */
  const evictIfFull = (): void => {
    const open = openConnections()
    if (open.length + pool.length < maxSessions) return
    const spare = pool.shift()
    if (spare !== undefined) {
      spare.destroy()
      return
    }
    if (open.length < maxSessions) return
    const victim = open
      .filter((s) => s.pending === 0 && s.wire.vitessSession.inTransaction !== true)
      .sort((a, b) => a.lastUsed - b.lastUsed)[0]
    if (victim !== undefined) {
      closeConnection(victim)
      sessions.delete(victim.uuid)
    }
  }

  const mintSession = (uuid: string = randomUUID()): Session => {
    const session: Session = {
      uuid,
      wire: {
        signature: randomBytes(32).toString("base64"),
        vitessSession: {
          autocommit: true,
          targetString: database,
          options: { includedFields: "ALL", clientFoundRows: true },
          DDLStrategy: "direct",
          SessionUUID: uuid,
          enableSystemSettings: true,
        },
      },
      connection: undefined,
      queue: Promise.resolve(),
      pending: 0,
      lastUsed: Date.now(),
      idleTimer: undefined,
    }
    sessions.set(uuid, session)
    return session
  }

  const armIdleTimer = (session: Session): void => {
    if (session.idleTimer !== undefined) clearTimeout(session.idleTimer)
    session.idleTimer = setTimeout(() => {
      if (session.pending > 0) return
      closeConnection(session)
      sessions.delete(session.uuid)
    }, sessionIdleMs)
    // An idle session never keeps a test process alive on its own.
    session.idleTimer.unref?.()
  }

  const runQuery = async (session: Session, query: string): Promise<WireResult> => {
    const vs = session.wire.vitessSession
    if (session.connection === undefined && vs.inTransaction === true) {
      // The connection that held this transaction is gone (MariaDB restarted, or it failed): running on
      // a new one would silently drop the transaction's earlier statements. Vitess ends it instead.
      delete vs.inTransaction
      throw new RpcFailure({
        code: "ABORTED",
        message: "transaction ended: the connection that held it was lost, and the transaction rolled back",
      })
    }
    if (session.connection === undefined) {
      const pooled = fromPool()
      if (pooled === undefined) evictIfFull()
      const opening: Promise<mysql.Connection> = (
        pooled
          ? Promise.resolve(pooled)
          : connect().then((conn) => {
              // A connection that dies while idle (MariaDB killed or restarted) is dropped, not thrown:
              // the session's next request opens a new one.
              conn.on("error", () => {
                const held = holder.get(conn)
                if (held !== undefined && held.session.connection === held.connection)
                  held.session.connection = undefined
                const i = pool.indexOf(conn)
                if (i >= 0) pool.splice(i, 1)
              })
              return conn
            })
      ).then((conn) => {
        holder.set(conn, { session, connection: opening })
        return conn
      })
      opening.catch(() => {
        if (session.connection === opening) session.connection = undefined
      })
      session.connection = opening
    }
    const conn = await session.connection
    const [result, fields] = await conn.query({
      sql: query,
      rowsAsArray: true,
      // Raw text-protocol bytes for every value (null for NULL): the driver casts them itself (§4).
      typeCast: (field) => field.buffer(),
    })
    if (serverStatusOf(conn) & SERVER_STATUS_IN_TRANS) vs.inTransaction = true
    else delete vs.inTransaction
    if (fields === undefined) {
      const header = result as ResultSetHeader
      const out: WireResult = {}
      if (header.affectedRows) out.rowsAffected = String(header.affectedRows)
      if (header.insertId) {
        out.insertId = String(header.insertId)
        vs.lastInsertId = out.insertId
      }
      return out
    }
    const rows = result as unknown as Buffer[][]
    if (rows.length > maxRows) {
      // What vttablet answers past PlanetScale's row limit (seen in the wild: "code = Aborted desc = Row count exceeded 100000").
      throw new RpcFailure({ code: "ABORTED", message: `Row count exceeded ${maxRows}` })
    }
    const out: WireResult = { fields: (fields as FieldPacket[]).map(toWireField) }
    if (rows.length > 0) out.rows = encodeRows(rows, maxResultBytes)
    return out
  }

  const execute = async (body: Record<string, unknown>): Promise<Response> => {
    const query = body.query
    if (typeof query !== "string") {
      return json({ code: "invalid_argument", message: "Execute needs a string `query`" }, 400)
    }
    const rawSession = body.session
    const uuid = sessionUuidOf(rawSession)
    let session = uuid === undefined ? undefined : sessions.get(uuid)
    if (session === undefined) {
      const fresh = mintSession(uuid)
      if (wasInTransaction(rawSession)) {
        // The session's connection was closed (idle or evicted) inside a transaction: its work is gone.
        armIdleTimer(fresh)
        return json({
          session: fresh.wire,
          error: {
            code: "ABORTED",
            message: `transaction ended: the session was idle for more than ${sessionIdleMs} ms and its connection was closed (the transaction rolled back)`,
          },
        })
      }
      session = fresh
    }
    const bytes = Buffer.byteLength(query)
    if (bytes > maxRequestBytes) {
      return json({
        session: session.wire,
        error: {
          code: "RESOURCE_EXHAUSTED",
          message: `grpc: trying to send message larger than max (${bytes} vs. ${maxRequestBytes})`,
        },
      })
    }
    const current = session
    current.pending++
    if (current.idleTimer !== undefined) clearTimeout(current.idleTimer)
    // A request without a session whose statement leaves nothing on its connection gives it back.
    const shares = uuid === undefined && sharable(query)
    const run = current.queue.then(async () => {
      const started = performance.now()
      try {
        const result = await runQuery(current, query)
        if (shares && current.wire.vitessSession.inTransaction !== true) release(current)
        return json({ session: current.wire, result, timing: (performance.now() - started) / 1000 })
      } catch (e) {
        if (e instanceof RpcFailure) return json({ session: current.wire, error: e.rpc })
        if (isSqlError(e)) {
          // A fatal error (e.g. a packet above max_allowed_packet) closes the MySQL connection too.
          if ((e as { fatal?: unknown }).fatal === true) closeConnection(current)
          return json({ session: current.wire, error: rpcErrorOf(e) })
        }
        // A lost or refused MariaDB connection: what Vitess says when a tablet is unreachable.
        closeConnection(current)
        const message = e instanceof Error ? e.message : String(e)
        return json({ session: current.wire, error: { code: "UNAVAILABLE", message } })
      } finally {
        current.pending--
        current.lastUsed = Date.now()
        if (current.pending === 0 && !stopped) armIdleTimer(current)
      }
    })
    current.queue = run.then(
      () => undefined,
      () => undefined,
    )
    return run
  }

  const handle = async (req: Request): Promise<Response> => {
    requests++
    if (latencyMs > 0) await Bun.sleep(latencyMs)
    const fault = faults.shift()
    if (fault !== undefined) return json(fault.body, fault.status)
    const { pathname } = new URL(req.url)
    const route = pathname.startsWith(ROUTE_PREFIX) ? pathname.slice(ROUTE_PREFIX.length) : ""
    if (req.method !== "POST" || (route !== "Execute" && route !== "CreateSession")) {
      return json({ code: "not_found", message: `${req.method} ${pathname} is not a PlanetScale route` }, 404)
    }
    const credentials = credentialsOf(req)
    if (credentials === undefined || credentials.user !== mariadb.user || credentials.password !== mariadb.password) {
      return json({ error: { code: "UNAUTHENTICATED", message: "invalid auth credentials" } }, 401)
    }
    let body: unknown
    try {
      body = JSON.parse(await req.text())
    } catch (e) {
      return json({ code: "invalid_argument", message: `request body is not JSON: ${String(e)}` }, 400)
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return json({ code: "invalid_argument", message: "request body is not a JSON object" }, 400)
    }
    if (route === "CreateSession") {
      const session = mintSession()
      armIdleTimer(session)
      return json({
        branch: database,
        user: { username: mariadb.user, psid: "planetscale-bridge", role: "admin" },
        session: session.wire,
      })
    }
    return execute(body as Record<string, unknown>)
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // Large enough that an oversized query reaches `maxRequestBytes` and gets PlanetScale's answer
    // instead of Bun's bare 413 (a query is sent as JSON: up to twice its bytes once escaped).
    maxRequestBodySize: Math.max(2 * maxRequestBytes + 1024 * 1024, 128 * 1024 * 1024),
    idleTimeout: 0,
    fetch: handle,
  })
  const port = server.port ?? 0

  return {
    url: `http://${encodeURIComponent(mariadb.user)}:${encodeURIComponent(mariadb.password)}@127.0.0.1:${port}`,
    port,
    failNext: (fault) => {
      faults.push(fault)
    },
    requestCount: () => requests,
    openSessions: () => openConnections().length,
    stop: async () => {
      stopped = true
      await server.stop(true)
      for (const session of sessions.values()) closeConnection(session)
      sessions.clear()
      for (const c of pool.splice(0)) c.destroy()
    },
  }
}
