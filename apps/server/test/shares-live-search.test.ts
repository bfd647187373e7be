/**
 * A share reaches the live socket and search (issue #11 §5), on SQLite and on MariaDB: user B sees a
 * session A shared with B live and in search only while it is shared, marked with A as its owner;
 * after A withdraws it, B's socket is told, gets no further line (also when the withdrawal went
 * through another server on the same database), and search finds nothing of it. A share never lets
 * B write (sync) or command (remote commands) A's session.
 */
import type { Api } from "@overlord/protocol"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EngineName, type Member, userLine, World } from "./accounts-world.ts"

const SEED = "aaaaaaaa-5555-4555-8555-000000000001"
const B_SID = "bbbbbbbb-5555-4555-8555-000000000002"
/** A word no other line has, in the shared session and in an unshared one of A's. */
const WORD = "quokkalantern"

type LiveSocket = Awaited<ReturnType<World["liveSocket"]>>

const linesOf = (socket: LiveSocket) =>
  socket.messages.flatMap((m) => (m.type === "entries" ? (m.entries ?? []).map((e) => e.line) : []))

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(10)
  }
}

/** Longer than the change feed's poll (200 ms) and the share check (2 s) together, for "nothing came". */
const QUIET_MS = 2_600

describe.each(["sqlite", "mariadb"] as EngineName[])("sharing reaches live and search (%s)", (name) => {
  let world: World
  let a: Member
  let b: Member
  let aMachine: string
  let bMachine: string

  beforeAll(async () => {
    world = await World.start(name)
    a = await world.setupAdmin("a@example.com", "Alice")
    b = await world.invite(a, "b@example.com", "Bob")
    aMachine = await world.sessionFor(a, "machine-a", SEED, userLine(SEED, "seed", "seed line"))
    bMachine = await world.sessionFor(b, "machine-b", B_SID, userLine(B_SID, "b1", "bob's own wombatfern"))
  }, 60_000)
  afterAll(async () => {
    await world?.close()
  })

  const share = async (sessionId: string) => {
    const res = await world.call(`/api/v1/sessions/${sessionId}/shares`, { cookie: a.cookie, body: { email: b.email } })
    expect(res.status).toBe(201)
  }
  const withdraw = async (sessionId: string) => {
    const res = await world.call(`/api/v1/sessions/${sessionId}/shares/${b.userId}`, {
      method: "DELETE",
      cookie: a.cookie,
    })
    expect(res.status).toBe(204)
  }
  const aSync = async () => {
    const sync = await world.syncSocket(aMachine, "machine-a")
    await sync.waitFor((m) => m.type === "welcome", "welcome")
    return sync
  }
  const indexAll = async () => {
    while ((await Effect.runPromise(world.store.indexForSearch(1000))) > 0) {}
  }

  it("B's live socket streams a shared session's appends, and stops at once when the share is withdrawn", async () => {
    const SID = "aaaaaaaa-6666-4666-8666-000000000001"
    const sync = await aSync()
    await sync.append(SID, userLine(SID, "l1", "first live line"))
    // Not shared yet: B's subscription gets nothing of it.
    const early = await world.liveSocket(b, SID)
    await share(SID)
    const onB = await world.liveSocket(b, SID)
    const idle = await world.liveSocket(b, undefined)
    await until("the replay to B", () => linesOf(onB).some((l) => l.includes("first live line")))

    await sync.append(SID, userLine(SID, "l2", "second live line"))
    await until("the live append at B", () => linesOf(onB).some((l) => l.includes("second live line")))
    // The shared session's summary reaches the socket reading it, never B's other sockets.
    await until("the session summary at B", () =>
      onB.messages.some((m) => m.type === "session" && m.session?.sessionId === SID),
    )
    expect(linesOf(early)).toEqual([])
    expect(JSON.stringify(idle.messages)).not.toContain(SID)
    expect(JSON.stringify(idle.messages)).not.toContain("live line")
    // B's health lists B's machines only.
    const health = onB.messages.filter((m) => m.type === "health") as unknown as { machines: Api.Machine[] }[]
    expect(health.length).toBeGreaterThan(0)
    for (const h of health) expect(h.machines.map((m) => m.machineId)).toEqual(["machine-b"])

    await withdraw(SID)
    // The server ended the subscription and sent the notice before answering the DELETE; the socket and
    // the HTTP answer are separate connections, so the notice may land a moment after the 204.
    await until("share-withdrawn at B", () =>
      onB.messages.some((m) => m.type === "share-withdrawn" && m.sessionId === SID),
    )
    const before = linesOf(onB).length
    await sync.append(SID, userLine(SID, "l3", "after the withdrawal"))
    // A resubscription from zero is not a way back in.
    onB.subscribe(SID)
    await Bun.sleep(QUIET_MS)
    expect(linesOf(onB).length).toBe(before)
    expect(JSON.stringify(onB.messages)).not.toContain("after the withdrawal")
    expect(JSON.stringify(early.messages)).not.toContain("live line")
    // A's own socket is unaffected.
    const onA = await world.liveSocket(a, SID)
    await until("A's replay", () => linesOf(onA).some((l) => l.includes("after the withdrawal")))
    for (const s of [early.ws, onB.ws, idle.ws, onA.ws, sync.ws]) s.close()
  })

  it("search finds a shared session, marked with its owner, only while shared; never A's unshared ones", async () => {
    const SHARED = "aaaaaaaa-7777-4777-8777-000000000001"
    const UNSHARED = "aaaaaaaa-7777-4777-8777-000000000002"
    const sync = await aSync()
    await sync.append(SHARED, userLine(SHARED, "s1", `shared ${WORD} notes`))
    await sync.append(UNSHARED, userLine(UNSHARED, "u1", `private ${WORD} plans`))
    sync.ws.close()
    await indexAll()
    const asB = async (query: string) =>
      (await world.call(`/api/v1/search?q=${WORD}${query}`, { cookie: b.cookie })).body as Api.SearchResult
    expect((await asB("")).hits).toEqual([])
    // A finds both: the checks below are not vacuous.
    const ofA = (await world.call(`/api/v1/search?q=${WORD}`, { cookie: a.cookie })).body as Api.SearchResult
    expect(ofA.hits.map((h) => h.sessionId).sort()).toEqual([SHARED, UNSHARED])
    expect(ofA.hits.every((h) => h.sharedBy === undefined)).toBe(true)

    await share(SHARED)
    const owner = { userId: a.userId, email: "a@example.com", name: "Alice" }
    // Plain full text, and each mode (without Ollama every mode answers by words, saying so).
    for (const query of ["", "&mode=text", "&mode=hybrid", "&mode=semantic"]) {
      const found = await asB(query)
      expect(found.hits, query).toMatchObject([{ sessionId: SHARED, sharedBy: owner }])
      expect(JSON.stringify(found), query).not.toContain("private")
      expect(found.hits[0]!.snippet).toContain(WORD)
    }
    // B's bearer token finds it too; B's own sessions are not marked.
    const byToken = (await world.call(`/api/v1/search?q=${WORD}`, { bearer: b.apiToken })).body as Api.SearchResult
    expect(byToken.hits.map((h) => h.sessionId)).toEqual([SHARED])
    const own = (await world.call("/api/v1/search?q=wombatfern", { cookie: b.cookie })).body as Api.SearchResult
    expect(own.hits.map((h) => [h.sessionId, h.sharedBy])).toEqual([[B_SID, undefined]])

    await withdraw(SHARED)
    for (const query of ["", "&mode=text", "&mode=hybrid"]) {
      expect((await asB(query)).hits, query).toEqual([])
    }
  })

  it("a shared session B also has a session of (same id) searches as B's own: never a mix", async () => {
    const SID = "aaaaaaaa-8888-4888-8888-000000000001"
    const sync = await aSync()
    await sync.append(SID, userLine(SID, "x1", `alice's ${WORD}x words`))
    sync.ws.close()
    const bs = await world.syncSocket(bMachine, "machine-b")
    await bs.waitFor((m) => m.type === "welcome", "welcome")
    await bs.append(SID, userLine(SID, "y1", `bob's ${WORD}x words`))
    bs.ws.close()
    await indexAll()
    await share(SID)
    const found = (await world.call(`/api/v1/search?q=${WORD}x`, { cookie: b.cookie })).body as Api.SearchResult
    expect(found.hits.map((h) => [h.sessionId, h.sharedBy])).toEqual([[SID, undefined]])
    expect(found.hits[0]!.snippet).toContain("bob")
    // Live likewise reads B's own.
    const onB = await world.liveSocket(b, SID)
    await until("B's own line", () => linesOf(onB).length > 0)
    await Bun.sleep(300)
    expect(linesOf(onB).join("\n")).not.toContain("alice")
    onB.ws.close()
    await withdraw(SID)
  })

  it("a share never lets B write or command A's session", async () => {
    const SID = "aaaaaaaa-9999-4999-8999-000000000001"
    const sync = await aSync()
    await sync.append(SID, userLine(SID, "w1", "alice writes here"))
    sync.ws.close()
    await share(SID)
    // B's daemon (accepting remote commands) cannot resume A's session, nor reach A's machine.
    const bs = await world.syncSocket(bMachine, "machine-b", {
      remote: { enabled: true, maxConcurrent: 2, maxPromptBytes: 100_000, sandbox: false },
    })
    await bs.waitFor((m) => m.type === "welcome", "welcome")
    const base = { projectDir: "/home/dev/proj", prompt: "continue" }
    const onB = await world.call("/api/v1/commands", {
      cookie: b.cookie,
      body: { ...base, machineId: "machine-b", resumeSessionId: SID },
    })
    expect(onB.status).toBe(404)
    expect(onB.body).toMatchObject({ error: { code: "not_found" } })
    const onA = await world.call("/api/v1/commands", {
      cookie: b.cookie,
      body: { ...base, machineId: "machine-a", resumeSessionId: SID },
    })
    expect(onA.status).toBe(404)
    const listed = (await world.call(`/api/v1/commands?sessionId=${SID}`, { cookie: a.cookie })).body as {
      commands: unknown[]
    }
    expect(listed.commands).toEqual([])
    // Writes through the read routes are refused; B's sync writes only B's own session of that id.
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      for (const path of [`/api/v1/sessions/${SID}`, `/api/v1/sessions/${SID}/entries`]) {
        const res = await world.call(path, { method, cookie: b.cookie })
        expect(res.status, `${method} ${path}`).toBeGreaterThanOrEqual(400)
      }
    }
    await bs.append(SID, userLine(SID, "w2", "bob tries to write"))
    bs.ws.close()
    const aEntries = (await world.call(`/api/v1/sessions/${SID}/entries`, { cookie: a.cookie })).body as Api.EntryPage
    expect(aEntries.entries.map((e) => e.line).join("\n")).not.toContain("bob tries")
    await withdraw(SID)
  })

  it.runIf(name === "mariadb")(
    "a withdrawal through another server ends B's live stream there too",
    async () => {
      const peer = await world.peer()
      try {
        const SID = "aaaaaaaa-aaaa-4aaa-8aaa-000000000001"
        const sync = await aSync()
        await sync.append(SID, userLine(SID, "p1", "line one"))
        await share(SID)
        // B watches through the peer; A syncs and withdraws through the first server.
        const onB = await peer.liveSocket(b, SID)
        await until("the replay at the peer", () => linesOf(onB).some((l) => l.includes("line one")))
        await sync.append(SID, userLine(SID, "p2", "line two"))
        await until("the feed's append at the peer", () => linesOf(onB).some((l) => l.includes("line two")))
        await withdraw(SID)
        await sync.append(SID, userLine(SID, "p3", "line three"))
        // The peer learns of the withdrawal from the database: told within its share check.
        await until("share-withdrawn at the peer", () =>
          onB.messages.some((m) => m.type === "share-withdrawn" && m.sessionId === SID),
        )
        await Bun.sleep(QUIET_MS)
        expect(JSON.stringify(onB.messages)).not.toContain("line three")
        for (const s of [onB.ws, sync.ws]) s.close()
      } finally {
        await peer.close()
      }
    },
    30_000,
  )
})
