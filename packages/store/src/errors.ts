/**
 * What a store operation can fail with. Every engine reports its driver's failures as one of these,
 * chosen by the driver's error code (never by its message), and keeps the driver's error as `cause`.
 *
 * - `StoreUnavailableError`: the database cannot be reached or cannot write now (connection refused or
 *   lost, disk full, file unreadable). Retryable: the operation did not happen; try it again later.
 * - `StoreConflictError`: another writer got in the way (lock wait timed out, deadlock, a row inserted
 *   concurrently). Retryable: the transaction was rolled back; running it again re-reads the state.
 * - `StoreInputError`: the caller asked for something malformed (an invalid page cursor). Not
 *   retryable; an API answers it 400.
 * - `StoreQueryError`: anything else (a statement the engine got wrong, data it cannot bind). Not
 *   retryable: running it again fails again.
 *
 * In each, nothing of the failed operation is stored: a group of appends commits whole or not at all.
 */
import { Schema } from "effect"

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

export class StoreUnavailableError extends Schema.TaggedError<StoreUnavailableError>()("StoreUnavailableError", {
  operation: Schema.String,
  cause: Schema.Unknown,
}) {
  override get message(): string {
    return `store unavailable during ${this.operation}: ${describe(this.cause)}`
  }
}

export class StoreConflictError extends Schema.TaggedError<StoreConflictError>()("StoreConflictError", {
  operation: Schema.String,
  cause: Schema.Unknown,
}) {
  override get message(): string {
    return `store conflict during ${this.operation}: ${describe(this.cause)}`
  }
}

export class StoreQueryError extends Schema.TaggedError<StoreQueryError>()("StoreQueryError", {
  operation: Schema.String,
  cause: Schema.Unknown,
}) {
  override get message(): string {
    return `store query failed during ${this.operation}: ${describe(this.cause)}`
  }
}

/** Thrown by an engine (or the code it shares, like `decodeCursor`) for a malformed request. */
export class StoreInputError extends Schema.TaggedError<StoreInputError>()("StoreInputError", {
  operation: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return this.reason
  }
}

/**
 * The database refused the credentials, or the account's quota or plan limit is reached: a person must
 * act. Raised by the MySQL engines (`mysql/errors.ts`, from the driver's codes) and declared here, beside
 * the other store errors, because its message is ours: it names the database and the cause, never the
 * driver's text, so the server may tell it to a daemon (`accessRefusalOf`).
 */
export class DatabaseAccessError extends Error {
  override readonly name = "DatabaseAccessError"
  constructor(
    message: string,
    readonly reason: "credentials" | "quota",
    options: { cause: unknown },
  ) {
    super(message, options)
  }
}

/** The `DatabaseAccessError` a store error was caused by, if any (it is wrapped in a `StoreQueryError`). */
export const accessRefusalOf = (error: unknown): DatabaseAccessError | undefined => {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (e instanceof DatabaseAccessError) return e
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

export type StoreError = StoreUnavailableError | StoreConflictError | StoreInputError | StoreQueryError

export const isStoreError = (u: unknown): u is StoreError =>
  u instanceof StoreUnavailableError ||
  u instanceof StoreConflictError ||
  u instanceof StoreInputError ||
  u instanceof StoreQueryError

/** Whether trying the same operation again later may succeed (nothing of it was stored). */
export const isRetryable = (error: StoreError): boolean =>
  error._tag === "StoreUnavailableError" || error._tag === "StoreConflictError"

/**
 * The database was migrated by a newer Overlord than this one (a laptop's Overlord downgraded, or a
 * rolling upgrade with an older server still running): this version would misread what newer ones
 * write (line blocks, compressed chunks), so it refuses to open it rather than serve wrong bytes.
 */
export class SchemaTooNewError extends Error {
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(
      `this database was migrated by a newer Overlord (schema version ${found}; this one knows up to ${known}): upgrade Overlord to use it`,
    )
    this.name = "SchemaTooNewError"
  }
}
