/**
 * Found in security-audit (notes item 4): `GET /api/v1/ai/status` gave every user the server-wide
 * facts: the indexer's last error text (an Ollama or store error can quote another user's transcript,
 * SQL, key values) and the whole server's vector index. Now a member gets their own counts, no
 * `lastError` and no vector index; an admin, or the owner of a server without accounts, still gets
 * them. A real server and indexer against the fake Ollama, answering what the indexer cannot read.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { SqliteEngine } from "@overlord/store/sqlite"
import { startFakeOllama } from "@overlord/testkit/fake-ollama"
import { afterAll, expect, it } from "vitest"
import { sessionFile, TOPICS } from "../support/ai-corpus.ts"
import { startAiServer, until } from "../support/ai-server.ts"

const session = sessionFile(TOPICS[0]!, 1, Date.UTC(2026, 9, 1, 9, 0))

const dir = mkdtempSync(join(tmpdir(), "overlord-ai-status-member-"))
const fake = startFakeOllama()
afterAll(async () => {
  await fake.stop()
  rmSync(dir, { recursive: true, force: true })
})

it("a member's AI status has no server-wide error text or vector index; an admin's has", async () => {
  const engine = new SqliteEngine({ path: join(dir, "overlord.db") })
  const server = await startAiServer(engine, {
    url: fake.url,
    chatModel: "llama3.2",
    embedModel: "nomic-embed-text",
    timeoutMs: 2_000,
  })
  try {
    const setup = await engine.createAccountLink({ kind: "setup", createdBy: null, role: "admin", ttlMs: 60_000 })
    const admin = await engine.acceptAccountLink(setup.token, "setup", "ada@example.com", "Ada")
    if (admin._tag !== "Accepted") throw new Error(`setup: ${admin._tag}`)
    const adminToken = await engine.issueToken({ userId: admin.user.userId, kind: "api" })
    const link = await engine.createAccountLink({ kind: "invite", createdBy: null, role: "member", ttlMs: 60_000 })
    const accepted = await engine.acceptAccountLink(link.token, "invite", "bob@example.com", "Bob")
    if (accepted._tag !== "Accepted") throw new Error(`invite: ${accepted._tag}`)
    const memberToken = await engine.issueToken({ userId: accepted.user.userId, kind: "api" })
    const statusOf = async (token: string) => {
      const res = await fetch(`${server.url}/api/v1/ai/status`, { headers: { authorization: `Bearer ${token}` } })
      expect(res.status).toBe(200)
      return (await res.json()) as Api.AiStatus
    }

    // Answers the indexer cannot read: its error text becomes `lastError`.
    fake.setGarbage("wrong-shape")
    await server.append(session.fileKey, session.text)
    const owner = await until(
      () => statusOf(adminToken),
      (s) => s.lastError !== null,
      30_000,
    )
    expect(owner.lastError).toBeTruthy()
    expect(owner.vectorsInMemory).toBeTypeOf("number")
    expect(owner.vectorBytes).toBeTypeOf("number")

    const member = await statusOf(memberToken)
    expect(member.state).toBe(owner.state)
    expect(member.lastError).toBeNull()
    expect(member).not.toHaveProperty("vectorsInMemory")
    expect(member).not.toHaveProperty("vectorBytes")
    // What concerns the member is still there: why search by meaning is off, and their own counts.
    expect(member.sessions).toBe(0)
    expect(owner.sessions).toBe(0)
  } finally {
    await server.close()
  }
})
