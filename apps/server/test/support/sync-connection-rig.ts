/**
 * The server's sync connection without a port, for tests of its side of the sync protocol: a socket
 * stand-in collects what the server sends (`sent`) and the close code, the daemon's hello is sent and
 * the welcome awaited. `connectSyncInMemory` adds a real SQLite store (in memory) with a user, a machine
 * token, and a wrapper that records how appends reached the store in groups.
 */
import { encodeAppendFrame, Sync } from "@overlord/protocol"
import { type Append, fromEngine, type Interface as StoreApi } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { LiveHub } from "../../src/live-hub.ts"
import { openSyncConnection, SyncPresence } from "../../src/sync-socket.ts"

const enc = new TextEncoder()
export const SID = "11111111-2222-3333-4444-555555555555"
export const KEY = `-home-dev-proj/${SID}.jsonl`

/** A user prompt of session `SID`, as one transcript line. */
export const line = (uuid: string) =>
  `${JSON.stringify({ type: "user", uuid, sessionId: SID, timestamp: "2026-11-01T10:00:00.000Z", message: { role: "user", content: `prompt ${uuid}` } })}\n`

/** An append frame carrying `text` from `fromOffset` of `fileKey` (generation 0). */
export function frame(seq: number, fromOffset: number, text: string, fileKey = KEY): Uint8Array {
  const payload = enc.encode(text)
  return encodeAppendFrame(
    { type: "append", seq, fileKey, generation: 0, identity: "1:1", fromOffset, toOffset: fromOffset + payload.length },
    payload,
  )
}

/**
 * Opens a connection to `store`, says hello as machine `m-1` with `token`, and waits for the welcome.
 * `until` polls every 2 ms, `polls` times at most (500 by default), then fails with what was sent.
 */
export async function connectSync(store: StoreApi, token: string, options: { polls?: number } = {}) {
  const polls = options.polls ?? 500
  const sent: Sync.ServerMessage[] = []
  let closed: number | null = null
  const conn = openSyncConnection(
    {
      send: (data) => sent.push(JSON.parse(data) as Sync.ServerMessage),
      close: (code) => {
        closed = code ?? null
      },
    },
    store,
    new LiveHub(store),
    new SyncPresence(),
  )
  const until = async (done: () => boolean) => {
    for (let i = 0; i < polls && !done(); i++) await Bun.sleep(2)
    if (!done()) throw new Error(`timed out; sent: ${JSON.stringify(sent)}`)
  }
  conn.onMessage(
    JSON.stringify({
      type: "hello",
      protocolVersion: Sync.PROTOCOL_VERSION,
      daemonVersion: "test",
      machineId: "m-1",
      machineName: "laptop",
      token,
    }),
  )
  await until(() => sent.some((m) => m.type === "welcome"))
  return { conn, sent, until, closed: () => closed }
}

export interface InMemoryOptions {
  /** Chunks per group the engine asks for (PlanetScale's `MysqlEngine` asks 8); the socket's 4 if unset. */
  readonly groupChunks?: number
  /** Wraps the store the connection writes to (around the group recorder), e.g. to record more calls. */
  readonly wrapStore?: (store: StoreApi) => StoreApi
}

/** `connectSync` to a fresh in-memory SQLite store; `groups` holds each append group's seqs, in order. */
export async function connectSyncInMemory(options: InMemoryOptions = {}) {
  const engine = new SqliteEngine({ path: ":memory:" })
  const userId = engine.ensureUser("alice")
  const token = engine.issueToken({ userId, kind: "machine", machineUid: "m-1" })
  const base = fromEngine(options.groupChunks ? Object.assign(engine, { groupChunks: options.groupChunks }) : engine)
  const groups: number[][] = []
  const recorded: StoreApi = {
    ...base,
    append: (actor, appends: readonly Append[]) => {
      groups.push(appends.map((a) => a.header.seq))
      return base.append(actor, appends)
    },
  }
  const store = options.wrapStore?.(recorded) ?? recorded
  return { engine, userId, groups, ...(await connectSync(store, token)) }
}
