/**
 * For tests that drive a `SyncEngine` in process against a hand-written sync server: the engine with
 * test credentials, and the `welcome` such a server answers a hello with.
 */
import { Sync } from "@overlord/protocol"
import { silentLogger } from "../../src/logger.ts"
import { SyncEngine, type SyncOptions } from "../../src/sync-engine.ts"

export const testEngine = (serverUrl: string, options: Partial<SyncOptions> = {}): SyncEngine =>
  new SyncEngine({ serverUrl, machineId: "m", machineName: "m", token: "t", log: silentLogger, ...options })

/** No cursors, the usual frame limit. */
export const welcomeMessage = (extra: Partial<Sync.Welcome> = {}): string =>
  JSON.stringify({
    type: "welcome",
    protocolVersion: Sync.PROTOCOL_VERSION,
    serverVersion: "test",
    cursors: [],
    limits: { maxFrameBytes: 8 * 1024 * 1024 },
    ...extra,
  } satisfies Sync.Welcome)
