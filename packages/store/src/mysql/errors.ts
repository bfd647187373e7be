/**
 * What a MySQL driver's failure means to the store, decided from the driver's codes (never its
 * message): the database cannot be reached or has no connection to spare (retryable), another
 * writer got in the way (retryable), PlanetScale's quota or rate limit is reached (retryable later), the
 * credentials are refused (a person must act), or anything else. Credentials and quota failures are
 * first wrapped in a `DatabaseAccessError` whose message names the cause.
 */
import {
  DatabaseAccessError,
  StoreConflictError,
  type StoreError,
  StoreQueryError,
  StoreUnavailableError,
} from "../errors.ts"

// Declared engine-independent (the sync socket tells a daemon its sentence), kept here by name too.
export { DatabaseAccessError }

export type DriverFailure = "unavailable" | "conflict" | "credentials" | "quota" | "other"

/** Socket-level failures (Node's and Bun's `code`), as mysql2 and fetch report them. */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
  "ConnectionRefused",
  "ConnectionClosed",
  "FailedToOpenSocket",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "POOL_CLOSED",
])

/**
 * MySQL error numbers: 1040 too many connections, 1053 server shutting down, 1203 (MySQL) and 1226
 * (MariaDB, also an hourly query quota) a user's connection limit, 2002/2003/2006/2013 server gone;
 * 1205 lock wait timeout, 1213 deadlock; 1044/1045/1227 access denied.
 */
const UNAVAILABLE_ERRNOS = new Set([1040, 1053, 1203, 1226, 2002, 2003, 2006, 2013])
const CONFLICT_ERRNOS = new Set([1205, 1213])
const CREDENTIAL_ERRNOS = new Set([1044, 1045, 1227])

const field = (e: unknown, key: string): unknown =>
  typeof e === "object" && e !== null ? (e as Record<string, unknown>)[key] : undefined

/** The socket code of an error or of the errors it wraps (fetch puts it in `cause`). */
function socketCode(e: unknown, depth = 0): string | null {
  if (depth > 4 || e === null || e === undefined) return null
  const code = field(e, "code")
  if (typeof code === "string" && UNREACHABLE_CODES.has(code)) return code
  return socketCode(field(e, "cause"), depth + 1)
}

/**
 * mysql2 errors carry the server's `errno`. PlanetScale's carry only Vitess' text and code; the
 * errno inside the text is not read (errors are never recognised by their message): the Vitess code
 * says enough (`classifyDriverError`).
 */
function mysqlErrno(e: unknown): number | null {
  const errno = field(e, "errno")
  return typeof errno === "number" ? errno : null
}

/** What kind of failure a driver error is. */
export function classifyDriverError(error: unknown): DriverFailure {
  if (error instanceof DatabaseAccessError) return error.reason
  if (socketCode(error) !== null) return "unavailable"
  const errno = mysqlErrno(error)
  if (errno !== null) {
    if (UNAVAILABLE_ERRNOS.has(errno)) return "unavailable"
    if (CONFLICT_ERRNOS.has(errno)) return "conflict"
    if (CREDENTIAL_ERRNOS.has(errno)) return "credentials"
  }
  // PlanetScale's HTTP API: the HTTP status and the Vitess code.
  const status = field(error, "status")
  const code = field(field(error, "body"), "code")
  const vitess = typeof code === "string" ? code.toUpperCase() : ""
  if (status === 401 || status === 403 || vitess === "UNAUTHENTICATED" || vitess === "PERMISSION_DENIED") {
    return "credentials"
  }
  if (status === 402 || status === 429 || vitess === "RESOURCE_EXHAUSTED") return "quota"
  // Vitess: ABORTED is a deadlock (1213), DEADLINE_EXCEEDED a lock wait timeout (1205).
  if (vitess === "ABORTED" || vitess === "DEADLINE_EXCEEDED") return "conflict"
  if ((typeof status === "number" && status >= 500) || vitess === "UNAVAILABLE") {
    return "unavailable"
  }
  return "other"
}

/**
 * Credentials and quota failures become a `DatabaseAccessError` that says so in words (the driver's
 * own text is often a bare "HTTP 401"); any other error is returned unchanged, its codes intact.
 */
export function explainDriverError(error: unknown, connector: "mysql2" | "planetscale"): unknown {
  const kind = classifyDriverError(error)
  if (error instanceof DatabaseAccessError || (kind !== "credentials" && kind !== "quota")) return error
  const status = field(error, "status")
  const detail = typeof status === "number" ? ` (HTTP ${status})` : ""
  const where = connector === "planetscale" ? "PlanetScale" : "the MySQL server"
  return kind === "credentials"
    ? new DatabaseAccessError(
        `${where} refused the credentials${detail}: check the user name and password (or PlanetScale service token) in the database URL`,
        "credentials",
        { cause: error },
      )
    : new DatabaseAccessError(
        `${where} refused the request: the account's quota or rate limit is reached${detail}`,
        "quota",
        { cause: error },
      )
}

/** The store's error for a failure, with the failure as its cause. */
export function storeErrorOf(operation: string, cause: unknown): StoreError {
  switch (classifyDriverError(cause)) {
    // A quota or rate limit passes with time: retry later, as for an unreachable database.
    case "quota":
    case "unavailable":
      return new StoreUnavailableError({ operation, cause })
    case "conflict":
      return new StoreConflictError({ operation, cause })
    default:
      return new StoreQueryError({ operation, cause })
  }
}
