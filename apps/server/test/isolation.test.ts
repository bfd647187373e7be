/**
 * Every query is scoped to its user (issue #11 §5), over REST and WebSockets, on SQLite and on
 * MariaDB: user B cannot read, search, export, subscribe live to or sync into user A's sessions or
 * machines; a share gives B read access only (never a write, a share of its own, a revoke), and
 * stops when A withdraws it.
 */
import type { Api, Sync } from "@overlord/protocol"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EngineName, type Member, userLine, World } from "./accounts-world.ts"

const A_SID = "aaaaaaaa-1111-4111-8111-000000000001"
const B_SID = "bbbbbbbb-2222-4222-8222-000000000002"
const SECRET = "zebraphosphor alpha plans"

describe.each(["sqlite", "mariadb"] as EngineName[])("isolation between users (%s)", (name) => {
  let world: World
  let a: Member
  let b: Member
  let aMachineToken: string
  let bMachineToken: string

  beforeAll(async () => {
    world = await World.start(name)
    a = await world.setupAdmin("a@example.com", "Alice")
    b = await world.invite(a, "b@example.com", "Bob")
    aMachineToken = await world.sessionFor(a, "machine-a", A_SID, userLine(A_SID, "a1", SECRET))
    bMachineToken = await world.sessionFor(b, "machine-b", B_SID, userLine(B_SID, "b1", "bob's own work"))
    // The full-text index fills in the background; fill it now.
    while ((await Effect.runPromise(world.store.indexForSearch(1000))) > 0) {}
  }, 60_000)
  afterAll(async () => {
    await world?.close()
  })

  const asB = (path: string, init: { method?: string; body?: unknown } = {}) =>
    world.call(path, { ...init, cookie: b.cookie })

  it("A sees A's session (the checks below are not vacuous)", async () => {
    const list = (await world.call("/api/v1/sessions", { cookie: a.cookie })).body as Api.SessionList
    expect(list.sessions.map((s) => s.sessionId)).toEqual([A_SID])
    const hits = (await world.call("/api/v1/search?q=zebraphosphor", { cookie: a.cookie })).body as Api.SearchResult
    expect(hits.hits.map((h) => h.sessionId)).toEqual([A_SID])
    const exported = await world.call(`/api/v1/sessions/${A_SID}/export`, { bearer: a.apiToken })
    expect(exported.text).toContain("zebraphosphor")
  })

  it("B cannot list, read, export, search or deep-link A's sessions, by cookie, API token or machine token", async () => {
    for (const auth of [{ cookie: b.cookie }, { bearer: b.apiToken }, { bearer: bMachineToken }]) {
      const list = (await world.call("/api/v1/sessions", auth)).body as Api.SessionList
      expect(list.sessions.map((s) => s.sessionId)).toEqual([B_SID])
      for (const path of [
        `/api/v1/sessions/${A_SID}`,
        `/api/v1/sessions/${A_SID}/entries`,
        `/api/v1/sessions/${A_SID}/export`,
      ]) {
        const res = await world.call(path, auth)
        expect(res.status, path).toBe(404)
        expect(JSON.stringify(res.body)).not.toContain("zebraphosphor")
      }
      const hits = (await world.call("/api/v1/search?q=zebraphosphor", auth)).body as Api.SearchResult
      expect(hits.hits).toEqual([])
      const projects = (await world.call("/api/v1/projects", auth)).body as { projects: Api.Project[] }
      expect(projects.projects.every((p) => p.sessionCount === 1)).toBe(true)
      const usage = await world.call(`/api/v1/usage?groupBy=session&session=${A_SID}`, auth)
      expect((usage.body as Api.UsageReport).rows).toEqual([])
    }
    // A's entries by seq (the deep link) are not B's.
    const aEntries = (await world.call(`/api/v1/sessions/${A_SID}/entries`, { cookie: a.cookie })).body as Api.EntryPage
    const seq = aEntries.entries[0]!.seq
    expect((await asB(`/api/v1/entries/${seq}`)).status).toBe(404)
    expect((await world.call(`/api/v1/entries/${seq}`, { cookie: a.cookie })).status).toBe(200)
  })

  it("the usage report takes a limit of at least 1 and says whether it cut the rows", async () => {
    expect((await world.call("/api/v1/usage?groupBy=session&limit=0", { cookie: a.cookie })).status).toBe(400)
    expect((await world.call("/api/v1/usage?groupBy=session&limit=-1", { cookie: a.cookie })).status).toBe(400)
    const report = (await world.call("/api/v1/usage?groupBy=day&limit=1", { cookie: b.cookie })).body as Api.UsageReport
    expect(report.rows.length).toBeLessThanOrEqual(1)
    expect(report.truncated).toBe(false)
  })

  it("B cannot see or revoke A's machines, nor read A's shares", async () => {
    const machines = (await asB("/api/v1/machines")).body as { machines: Api.Machine[] }
    expect(machines.machines.map((m) => m.machineId)).toEqual(["machine-b"])
    expect((await asB("/api/v1/machines/machine-a/revoke", { method: "POST" })).status).toBe(404)
    // A's machine still syncs.
    const sync = await world.syncSocket(aMachineToken, "machine-a")
    await sync.waitFor((m) => m.type === "welcome", "welcome")
    sync.ws.close()
    expect((await asB(`/api/v1/sessions/${A_SID}/shares`)).status).toBe(404)
    expect((await asB(`/api/v1/sessions/${A_SID}/shares`, { body: { email: "b@example.com" } })).status).toBe(404)
  })

  it("B cannot rename A's machine, by cookie, API token or machine token; A's name is no clash for B", async () => {
    const aNames = async () =>
      ((await world.call("/api/v1/machines", { cookie: a.cookie })).body as { machines: Api.Machine[] }).machines.map(
        (m) => `${m.machineId}=${m.name}`,
      )
    const before = await aNames()
    expect(before).toEqual(["machine-a=laptop"])
    for (const [auth, status] of [
      [{ cookie: b.cookie }, 404],
      [{ bearer: b.apiToken }, 404],
      [{ bearer: bMachineToken }, 401],
    ] as const) {
      const res = await world.call("/api/v1/machines/machine-a/rename", { ...auth, body: { name: "bob's now" } })
      expect(res.status, JSON.stringify(auth)).toBe(status)
    }
    expect(await aNames()).toEqual(before)
    // Names are unique per user: B's machine may take A's machine's name, and A's rename is A's alone.
    const own = await asB("/api/v1/machines/machine-b/rename", { body: { name: "laptop" } })
    expect(own.status).toBe(200)
    expect((await asB("/api/v1/machines")).body).toMatchObject({
      machines: [{ machineId: "machine-b", name: "laptop" }],
    })
    expect(await aNames()).toEqual(before)
  })

  it("B's machine token cannot say hello as A's machine, and B's sync writes only B's sessions", async () => {
    const spoof = await world.syncSocket(bMachineToken, "machine-a")
    const refused = (await spoof.waitFor((m) => m.type === "refused", "refusal")) as Sync.Refused
    expect(refused.code).toBe("unauthorized")
    // B syncing a file with A's session id makes a session of B's own; A's is untouched.
    const sync = await world.syncSocket(bMachineToken, "machine-b")
    await sync.waitFor((m) => m.type === "welcome", "welcome")
    await sync.append(A_SID, userLine(A_SID, "forged", "written by bob"))
    sync.ws.close()
    const aDetail = (await world.call(`/api/v1/sessions/${A_SID}/entries`, { cookie: a.cookie })).body as Api.EntryPage
    expect(aDetail.entries.map((e) => e.line).join("\n")).not.toContain("written by bob")
    const bDetail = (await asB(`/api/v1/sessions/${A_SID}/entries`)).body as Api.EntryPage
    expect(bDetail.entries.map((e) => e.line).join("\n")).not.toContain("zebraphosphor")
  })

  it("B's live socket gets nothing of A's session while A's does", async () => {
    const SID = "aaaaaaaa-3333-4333-8333-000000000003"
    const onA = await world.liveSocket(a, SID)
    const onB = await world.liveSocket(b, SID)
    const sync = await world.syncSocket(aMachineToken, "machine-a")
    await sync.waitFor((m) => m.type === "welcome", "welcome")
    await sync.append(SID, userLine(SID, "live1", "live zebraphosphor"))
    const deadline = Date.now() + 10_000
    while (!onA.messages.some((m) => m.type === "entries") && Date.now() < deadline) await Bun.sleep(10)
    expect(onA.messages.some((m) => m.type === "entries")).toBe(true)
    // As long again for anything to reach B (the change feed polls every 200 ms).
    await Bun.sleep(600)
    expect(JSON.stringify(onB.messages)).not.toContain("zebraphosphor")
    expect(onB.messages.filter((m) => m.type === "entries" && (m.entries?.length ?? 0) > 0)).toEqual([])
    for (const s of [onA.ws, onB.ws, sync.ws]) s.close()
  })

  it("a refused or wrong credential reads nothing", async () => {
    for (const bearer of ["", "ova_not-a-token", aMachineToken.slice(0, -2), `${a.apiToken}x`]) {
      const res = await world.call("/api/v1/sessions", bearer ? { bearer } : {})
      expect(res.status).toBe(401)
    }
    expect((await world.call("/api/v1/sessions", { cookie: "overlord_session=ovb_forged" })).status).toBe(401)
  })

  it("B cannot list or revoke A's API tokens and pairing keys, nor watch A's commands (security audit)", async () => {
    const aTokens = async () =>
      ((await world.call("/api/v1/tokens", { cookie: a.cookie })).body as Api.TokenList).tokens.filter(
        (t) => !t.revoked,
      )
    const key = await world.call("/api/v1/pairing-keys", { cookie: a.cookie, body: { singleUse: true, ttlMinutes: 5 } })
    expect(key.status).toBe(201)
    const before = await aTokens()
    expect(new Set(before.map((t) => t.kind))).toEqual(new Set(["api", "pairing-key"]))
    const bList = ((await asB("/api/v1/tokens")).body as Api.TokenList).tokens
    expect(bList.map((t) => t.tokenId).filter((id) => before.some((t) => t.tokenId === id))).toEqual([])
    for (const t of before) {
      for (const auth of [{ cookie: b.cookie }, { bearer: b.apiToken }]) {
        const res = await world.call(`/api/v1/tokens/${t.tokenId}/revoke`, { ...auth, body: {} })
        expect(res.status, `${t.kind} ${JSON.stringify(auth)}`).toBe(404)
      }
    }
    expect(await aTokens()).toEqual(before)
    // A's API token still works after B's attempts.
    expect((await world.call("/api/v1/sessions", { bearer: a.apiToken })).status).toBe(200)
    // Commands of A, by id, answer B exactly as commands that do not exist.
    for (const path of ["/api/v1/commands/00000000-0000-4000-8000-000000000000", "/api/v1/commands/x/patch"]) {
      expect((await asB(path)).status, path).toBe(404)
    }
  })

  it("a share gives B read access only, and stops when A withdraws it", async () => {
    const shared = await world.call(`/api/v1/sessions/${A_SID}/shares`, {
      cookie: a.cookie,
      body: { email: "B@example.com" },
    })
    expect(shared.status).toBe(201)
    expect(shared.body).toMatchObject({ userId: b.userId, name: "Bob" })
    const mine = (await asB("/api/v1/shared-sessions")).body as Api.SharedSessionList
    expect(mine.sessions).toMatchObject([{ sessionId: A_SID, owner: { userId: a.userId, name: "Alice" } }])
    // Read through the ordinary routes: detail, entries, export, byte for byte as A's.
    expect((await asB(`/api/v1/sessions/${A_SID}`)).status).toBe(200)
    const entries = (await asB(`/api/v1/sessions/${A_SID}/entries`)).body as Api.EntryPage
    // B's own session of that id (the forged sync above) comes first: B reads it, never a mix of both.
    const joined = entries.entries.map((e) => e.line).join("\n")
    expect(joined).toContain("written by bob")
    expect(joined).not.toContain("zebraphosphor")
    const exportedByA = await world.call(`/api/v1/sessions/${A_SID}/export`, { cookie: a.cookie })
    const SHARED = "aaaaaaaa-4444-4444-8444-000000000004"
    const sync = await world.syncSocket(aMachineToken, "machine-a")
    await sync.waitFor((m) => m.type === "welcome", "welcome")
    await sync.append(SHARED, userLine(SHARED, "s1", "shared zebraphosphor notes"))
    sync.ws.close()
    expect(
      (await world.call(`/api/v1/sessions/${SHARED}/shares`, { cookie: a.cookie, body: { email: "b@example.com" } }))
        .status,
    ).toBe(201)
    const detail = await asB(`/api/v1/sessions/${SHARED}`)
    expect(detail.status).toBe(200)
    expect((await asB(`/api/v1/sessions/${SHARED}/entries`)).body).toMatchObject({
      entries: [{ line: expect.stringContaining("shared zebraphosphor notes") }],
    })
    const theirs = await world.call(`/api/v1/sessions/${SHARED}/export`, { cookie: a.cookie })
    const bobs = await asB(`/api/v1/sessions/${SHARED}/export`)
    expect(bobs.status).toBe(200)
    expect(bobs.text).toBe(theirs.text)
    expect(bobs.text).toContain("shared zebraphosphor notes")
    expect(exportedByA.status).toBe(200)
    // Never writable or re-sharable by B, never B's to withdraw, not in B's search or list.
    expect((await asB(`/api/v1/sessions/${SHARED}/shares`)).status).toBe(404)
    expect((await asB(`/api/v1/sessions/${SHARED}/shares`, { body: { email: "a@example.com" } })).status).toBe(404)
    expect((await asB(`/api/v1/sessions/${SHARED}/shares/${b.userId}`, { method: "DELETE" })).status).toBe(404)
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const res = await asB(`/api/v1/sessions/${SHARED}`, { method })
      expect(res.status, method).toBeGreaterThanOrEqual(400)
    }
    expect(((await asB("/api/v1/sessions")).body as Api.SessionList).sessions.map((s) => s.sessionId)).not.toContain(
      SHARED,
    )
    // Withdrawn: gone at once.
    expect(
      (await world.call(`/api/v1/sessions/${SHARED}/shares/${b.userId}`, { method: "DELETE", cookie: a.cookie }))
        .status,
    ).toBe(204)
    for (const path of [
      `/api/v1/sessions/${SHARED}`,
      `/api/v1/sessions/${SHARED}/entries`,
      `/api/v1/sessions/${SHARED}/export`,
    ]) {
      expect((await asB(path)).status, path).toBe(404)
    }
    expect(
      ((await asB("/api/v1/shared-sessions")).body as Api.SharedSessionList).sessions.map((s) => s.sessionId),
    ).toEqual([A_SID])
  })
})
