/**
 * The store: one interface over every engine (embedded SQLite today; MySQL and PlanetScale next).
 *
 * Every method takes an `Actor` so that every query is scoped to its user; sync methods take a
 * `MachineActor`. Engines implement `Engine` (plain, synchronous or promise-returning methods) and
 * `Store.fromEngine` wraps it as the Effect service the server uses.
 */
import type { Api, Sync } from "@overlord/protocol"
import type { LineFacts } from "@overlord/transcript"
import { Context, Effect, Layer, Schema } from "effect"

export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  operation: Schema.String,
  message: Schema.String,
}) {}

export interface Actor {
  readonly userId: number
}
export interface MachineActor extends Actor {
  readonly machineId: number
}

/**
 * `machine`: a daemon's credential. `api`: a bearer token for scripts and the CLI.
 * `login-link`: the one-time token in the URL `overlord start` prints. `browser`: the cookie it becomes.
 */
export type TokenKind = "machine" | "api" | "login-link" | "browser"

export interface TokenGrant {
  readonly userId: number
  readonly kind: TokenKind
  /** Set for machine tokens. */
  readonly machineUid: string | null
}

export interface IssueToken {
  readonly userId: number
  readonly kind: TokenKind
  readonly machineUid?: string
  readonly ttlMs?: number
}

/** A stored line as the live feed announces it. */
export interface StoredRef {
  readonly seq: number
  readonly sessionId: string
  readonly byteOffset: number
  /** Set when the line was kept but is not a readable record. */
  readonly notice: string | null
}

/** One append frame: the file's bytes from `header.fromOffset`, and the daemon's facts for its lines. */
export interface Append {
  readonly header: Sync.AppendHeader
  readonly payload: Uint8Array
  /**
   * `facts[i]`, when given, are the facts of the payload's i-th line as the daemon computed them
   * (same `FACTS_VERSION`); the engine computes any that are missing.
   */
  readonly facts?: readonly (LineFacts | null)[]
}

export type AppendOutcome =
  | { readonly _tag: "Ack"; readonly cursor: Sync.FileCursor; readonly stored: readonly StoredRef[] }
  | { readonly _tag: "Rejected"; readonly reason: string; readonly cursor: Sync.FileCursor }

export interface MachineState {
  readonly online: boolean
  readonly filesTracked?: number
  readonly bytesPending?: number
  readonly lastError?: string | null
}

export interface SessionQuery {
  readonly project?: string
  readonly machine?: string
  readonly model?: string
  readonly from?: string
  readonly to?: string
  readonly hasErrors?: boolean
  readonly q?: string
  readonly cursor?: string
  readonly limit?: number
}

export interface EntryQuery {
  readonly agentId?: string
  /** Every file of the session (main and subagents) instead of one transcript: the live feed. */
  readonly allFiles?: boolean
  readonly after?: number
  readonly before?: number
  readonly limit?: number
}

export interface UsageQuery {
  readonly groupBy: Api.UsageGroup
  readonly from?: string
  readonly to?: string
  readonly project?: string
  readonly sessionId?: string
}

export interface EntryWithSession {
  readonly sessionId: string
  readonly entry: Api.Entry
}

type R<A> = A | Promise<A>

/** What an engine implements; errors are thrown and become `StoreError`. */
export interface Engine {
  readonly name: string
  ensureUser(name: string): R<number>
  issueToken(input: IssueToken): R<string>
  verifyToken(plaintext: string, kinds: readonly TokenKind[]): R<TokenGrant | null>
  consumeToken(plaintext: string, kind: TokenKind): R<TokenGrant | null>

  openMachine(actor: Actor, machineUid: string, name: string): R<{ machineId: number; cursors: Sync.FileCursor[] }>
  /**
   * Stores each append that starts at its file's stored offset, in order, and commits them together
   * (group commit): one outcome per append, or a thrown error and nothing stored.
   */
  append(actor: MachineActor, appends: readonly Append[]): R<AppendOutcome[]>
  reset(actor: MachineActor, reset: Sync.Reset): R<AppendOutcome>
  setMachineState(actor: MachineActor, state: MachineState): R<void>

  listMachines(actor: Actor): R<Api.Machine[]>
  listProjects(actor: Actor): R<Api.Project[]>
  listSessions(actor: Actor, query: SessionQuery): R<Api.SessionList>
  getSession(actor: Actor, sessionId: string): R<Api.SessionDetail | null>
  listEntries(actor: Actor, sessionId: string, query: EntryQuery): R<Api.EntryPage | null>
  getEntry(actor: Actor, seq: number): R<EntryWithSession | null>
  /** The file's live lines as stored, in byte order: the source file byte for byte. */
  exportFile(actor: Actor, sessionId: string, fileKey: string): R<AsyncIterable<Uint8Array> | null>
  headSeq(actor: Actor): R<number>
  search(actor: Actor, q: string, limit: number): R<Api.SearchResult>
  usage(actor: Actor, query: UsageQuery): R<Api.UsageReport>
  /** Indexes up to `limit` stored entries for search; returns how many it indexed. */
  indexForSearch(limit: number): R<number>
  close(): R<void>
}

export interface Interface {
  readonly engine: string
  readonly ensureUser: (name: string) => Effect.Effect<number, StoreError>
  readonly issueToken: (input: IssueToken) => Effect.Effect<string, StoreError>
  readonly verifyToken: (plaintext: string, kinds: readonly TokenKind[]) => Effect.Effect<TokenGrant | null, StoreError>
  readonly consumeToken: (plaintext: string, kind: TokenKind) => Effect.Effect<TokenGrant | null, StoreError>
  readonly openMachine: (
    actor: Actor,
    machineUid: string,
    name: string,
  ) => Effect.Effect<{ machineId: number; cursors: Sync.FileCursor[] }, StoreError>
  readonly append: (actor: MachineActor, appends: readonly Append[]) => Effect.Effect<AppendOutcome[], StoreError>
  readonly reset: (actor: MachineActor, reset: Sync.Reset) => Effect.Effect<AppendOutcome, StoreError>
  readonly setMachineState: (actor: MachineActor, state: MachineState) => Effect.Effect<void, StoreError>
  readonly listMachines: (actor: Actor) => Effect.Effect<Api.Machine[], StoreError>
  readonly listProjects: (actor: Actor) => Effect.Effect<Api.Project[], StoreError>
  readonly listSessions: (actor: Actor, query: SessionQuery) => Effect.Effect<Api.SessionList, StoreError>
  readonly getSession: (actor: Actor, sessionId: string) => Effect.Effect<Api.SessionDetail | null, StoreError>
  readonly listEntries: (
    actor: Actor,
    sessionId: string,
    query: EntryQuery,
  ) => Effect.Effect<Api.EntryPage | null, StoreError>
  readonly getEntry: (actor: Actor, seq: number) => Effect.Effect<EntryWithSession | null, StoreError>
  readonly exportFile: (
    actor: Actor,
    sessionId: string,
    fileKey: string,
  ) => Effect.Effect<AsyncIterable<Uint8Array> | null, StoreError>
  readonly headSeq: (actor: Actor) => Effect.Effect<number, StoreError>
  readonly search: (actor: Actor, q: string, limit: number) => Effect.Effect<Api.SearchResult, StoreError>
  readonly usage: (actor: Actor, query: UsageQuery) => Effect.Effect<Api.UsageReport, StoreError>
  readonly indexForSearch: (limit: number) => Effect.Effect<number, StoreError>
}

export class Store extends Context.Service<Store, Interface>()("@overlord/store/Store") {}

const lift =
  <Args extends unknown[], A>(operation: string, f: (...args: Args) => R<A>) =>
  (...args: Args): Effect.Effect<A, StoreError> =>
    Effect.tryPromise({
      try: async () => f(...args),
      catch: (cause) => new StoreError({ operation, message: cause instanceof Error ? cause.message : String(cause) }),
    }).pipe(Effect.withSpan(`Store.${operation}`))

/** Wraps an engine as the `Store` service; the engine is closed with the layer's scope. */
export const fromEngine = (engine: Engine): Interface => ({
  engine: engine.name,
  ensureUser: lift("ensureUser", (n) => engine.ensureUser(n)),
  issueToken: lift("issueToken", (i) => engine.issueToken(i)),
  verifyToken: lift("verifyToken", (t, k) => engine.verifyToken(t, k)),
  consumeToken: lift("consumeToken", (t, k) => engine.consumeToken(t, k)),
  openMachine: lift("openMachine", (a, m, n) => engine.openMachine(a, m, n)),
  append: lift("append", (a, g) => engine.append(a, g)),
  reset: lift("reset", (a, r) => engine.reset(a, r)),
  setMachineState: lift("setMachineState", (a, s) => engine.setMachineState(a, s)),
  listMachines: lift("listMachines", (a) => engine.listMachines(a)),
  listProjects: lift("listProjects", (a) => engine.listProjects(a)),
  listSessions: lift("listSessions", (a, q) => engine.listSessions(a, q)),
  getSession: lift("getSession", (a, s) => engine.getSession(a, s)),
  listEntries: lift("listEntries", (a, s, q) => engine.listEntries(a, s, q)),
  getEntry: lift("getEntry", (a, s) => engine.getEntry(a, s)),
  exportFile: lift("exportFile", (a, s, f) => engine.exportFile(a, s, f)),
  headSeq: lift("headSeq", (a) => engine.headSeq(a)),
  search: lift("search", (a, q, l) => engine.search(a, q, l)),
  usage: lift("usage", (a, q) => engine.usage(a, q)),
  indexForSearch: lift("indexForSearch", (l) => engine.indexForSearch(l)),
})

/** A layer over an engine made at build time and closed when the layer's scope ends. */
export const layerFromEngine = (make: () => Engine | Promise<Engine>): Layer.Layer<Store, StoreError> =>
  Layer.effect(
    Store,
    Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => make(),
        catch: (cause) => new StoreError({ operation: "open", message: String(cause) }),
      }),
      (engine) => Effect.promise(async () => engine.close()),
    ).pipe(Effect.map(fromEngine)),
  )

/** Collects an export (tests and small files). */
export async function collectBytes(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let size = 0
  for await (const c of chunks) {
    parts.push(c)
    size += c.length
  }
  const out = new Uint8Array(size)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
