/**
 * dc5b7d4 taught `analyzeLine` that a prompt command (`/erk:plan-implement 8511`) is a session's first
 * prompt, without bumping `FACTS_VERSION`. A daemon released before it computes facts of the same version
 * with no prompt for that line, and a server took them: every session such a laptop synced came out
 * "untitled" on an up-to-date server, and stayed so (the migration that titles old sessions runs once).
 * Facts of the version before are now ignored (the server works them out itself), so the title comes.
 * The frame is read as the sync socket reads it (`appendFrameReader`) and stored by a real engine.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AppendFrameError, decodeAppendFrame, encodeAppendFrame, type Sync } from "@overlord/protocol"
import { SqliteEngine } from "@overlord/store/sqlite"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { factsOfLines } from "@overlord/transcript"
import { afterEach, describe, expect, it } from "vitest"
import { appendFrameReader } from "../../src/sync-socket.ts"

const SID = "e1e1e1e1-0000-4000-8000-0000000000f1"
const enc = new TextEncoder()
const dir = mkdtempSync(join(tmpdir(), "overlord-old-facts-"))
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe("facts from a daemon released before prompt commands counted", () => {
  it("are ignored, and the session is titled with its command", async () => {
    const payload = enc.encode(
      `${[
        sessionRecord(SID, 0, {
          message: {
            role: "user",
            content:
              "<command-message>erk:plan-implement is running…</command-message>\n<command-name>/erk:plan-implement</command-name>\n<command-args>8511</command-args>",
          },
        }),
        sessionRecord(SID, 1),
      ].join("\n")}\n`,
    )
    // The facts that daemon sends: today's, less the command's prompt; version 1, the one it knew.
    const oldFacts = factsOfLines(payload).map((f) => {
      if (!f) return f
      const { firstPromptText: _, ...rest } = f
      return rest
    })
    const header: Sync.AppendHeader = {
      type: "append",
      seq: 0,
      fileKey: `-home-dev-slash/${SID}.jsonl`,
      generation: 0,
      identity: "1:1",
      fromOffset: 0,
      toOffset: payload.length,
      factsVersion: 1,
    }
    const frame = decodeAppendFrame(encodeAppendFrame(header, payload, JSON.stringify(oldFacts)), appendFrameReader)
    if (frame instanceof AppendFrameError) throw frame
    expect(frame.factsIgnored?.reason).toBe("other_version")

    const engine = new SqliteEngine({ path: join(dir, "overlord.db") })
    try {
      const userId = engine.ensureUser("alice")
      const actor = { userId, machineId: engine.openMachine({ userId }, "m-1", "laptop").machineId }
      const [out] = engine.append(actor, [
        { header: frame.header, payload: frame.payload, ...(frame.facts ? { facts: frame.facts } : {}) },
      ])
      expect(out?._tag).toBe("Ack")
      const list = engine.listSessions({ userId }, {})
      expect(list.sessions.map((s) => s.title)).toEqual(["/erk:plan-implement 8511"])
    } finally {
      engine.close()
    }
  })
})
