/**
 * Accounts over HTTP (issue #11), on SQLite and on MariaDB: the setup link, invites, API tokens,
 * pairing keys, the device-code flow, machine revocation (an open sync socket is refused and closed
 * at once), and that the database holds no credential in plaintext.
 */
import type { Api, Sync } from "@overlord/protocol"
import type { Interface as StoreApi } from "@overlord/store"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { REPAIR_HINT } from "../src/http-accounts.ts"
import { type EngineName, userLine, World } from "./accounts-world.ts"

const SID = "aaaaaaaa-0000-4000-8000-000000000001"

/** Every row of the tables that hold credentials or the codes that lead to them, as text. */
async function secretRows(world: World): Promise<string> {
  const tables = ["tokens", "token_labels", "account_links", "device_codes"]
  const engine = world.engine as unknown as {
    db?: import("bun:sqlite").Database
    client?: { query(sql: string): Promise<{ rows: unknown[] }> }
  }
  const parts: unknown[] = []
  for (const t of tables) {
    parts.push(
      engine.db ? engine.db.query(`SELECT * FROM ${t}`).all() : (await engine.client!.query(`SELECT * FROM ${t}`)).rows,
    )
  }
  return JSON.stringify(parts)
}

describe.each(["sqlite", "mariadb"] as EngineName[])("accounts over HTTP (%s)", (name) => {
  let world: World
  beforeAll(async () => {
    world = await World.start(name)
  }, 60_000)
  afterAll(async () => {
    await world?.close()
  })

  it("the setup link makes the first admin and signs them in, once; /me says who", async () => {
    const link = await world.engine.createAccountLink({ kind: "setup", createdBy: null, role: "admin", ttlMs: 60_000 })
    expect((await world.call(`/api/v1/links/${link.token}`)).body).toMatchObject({ kind: "setup", valid: true })
    const first = await world.call("/api/v1/setup", {
      body: { token: link.token, email: "root@example.com", name: "Root" },
    })
    expect(first.status).toBe(200)
    expect(first.res.headers.get("set-cookie")).toMatch(/^overlord_session=.*HttpOnly; SameSite=Strict/)
    const cookie = first.res.headers.get("set-cookie")!.split(";")[0]!
    const me = await world.call("/api/v1/me", { cookie })
    expect(me.body).toEqual({
      user: { userId: expect.any(Number), email: "root@example.com", name: "Root", role: "admin" },
    })
    const again = await world.call("/api/v1/setup", {
      body: { token: link.token, email: "eve@example.com", name: "Eve" },
    })
    expect(again.status).toBe(410)
    expect((await world.call(`/api/v1/links/${link.token}`)).body).toMatchObject({ valid: false })
    // Any other setup link is dead once an admin exists.
    const late = await world.engine.createAccountLink({ kind: "setup", createdBy: null, role: "admin", ttlMs: 60_000 })
    expect(
      (await world.call("/api/v1/setup", { body: { token: late.token, email: "x@example.com", name: "X" } })).status,
    ).toBe(410)
    expect((await world.call("/api/v1/setup", { body: { token: 5 } })).status).toBe(400)
  })

  it("an admin invites by a one-time link; a member cannot invite or make pairing keys", async () => {
    const admin = await world.setupAdmin("admin1@example.com", "Admin One").catch(async () => {
      // The first case made the admin already: sign one in through an invite with the admin role instead.
      const root = await world.engine.findUserByEmail("root@example.com")
      const link = await world.engine.createAccountLink({
        kind: "invite",
        createdBy: root!.userId,
        role: "admin",
        ttlMs: 60_000,
      })
      const res = await world.call("/api/v1/invites/accept", {
        body: { token: link.token, email: "admin1@example.com", name: "Admin One" },
      })
      const cookie = res.res.headers.get("set-cookie")!.split(";")[0]!
      return { cookie, userId: (res.body as Api.Me).user.userId }
    })
    const made = await world.call("/api/v1/invites", { cookie: admin.cookie, body: { ttlMinutes: 30 } })
    expect(made.status).toBe(201)
    const url = new URL((made.body as Api.CreatedLink).url)
    expect(url.pathname).toMatch(/^\/invite\/ovi_/)
    const token = url.pathname.split("/").pop()!
    const bob = await world.call("/api/v1/invites/accept", { body: { token, email: "bob@example.com", name: "Bob" } })
    expect(bob.status).toBe(200)
    expect((bob.body as Api.Me).user.role).toBe("member")
    expect(
      (await world.call("/api/v1/invites/accept", { body: { token, email: "c@example.com", name: "C" } })).status,
    ).toBe(410)
    const bobCookie = bob.res.headers.get("set-cookie")!.split(";")[0]!
    expect((await world.call("/api/v1/invites", { cookie: bobCookie, body: {} })).status).toBe(403)
    expect(
      (await world.call("/api/v1/pairing-keys", { cookie: bobCookie, body: { singleUse: true, ttlMinutes: 5 } }))
        .status,
    ).toBe(403)
    // An e-mail in use is refused, and the link stays usable.
    const second = await world.call("/api/v1/invites", { cookie: admin.cookie, body: {} })
    const t2 = new URL((second.body as Api.CreatedLink).url).pathname.split("/").pop()!
    expect(
      (await world.call("/api/v1/invites/accept", { body: { token: t2, email: "BOB@example.com", name: "B2" } }))
        .status,
    ).toBe(409)
    expect((await world.call(`/api/v1/links/${t2}`)).body).toMatchObject({ kind: "invite", valid: true })
  })

  it("API tokens: made once, listed without secrets, revoked and then refused", async () => {
    const admin = await world.invite(await adminOf(world), "tok@example.com", "Tok")
    const list = await world.call("/api/v1/tokens", { cookie: admin.cookie })
    const tokens = (list.body as Api.TokenList).tokens
    expect(tokens.map((t) => [t.kind, t.label, t.revoked])).toEqual([["api", "tests", false]])
    expect(JSON.stringify(list.body)).not.toContain(admin.apiToken)
    expect((await world.call("/api/v1/sessions", { bearer: admin.apiToken })).status).toBe(200)
    const revoke = await world.call(`/api/v1/tokens/${tokens[0]!.tokenId}/revoke`, {
      method: "POST",
      cookie: admin.cookie,
    })
    expect(revoke.status).toBe(204)
    expect((await world.call("/api/v1/sessions", { bearer: admin.apiToken })).status).toBe(401)
    expect((await world.call("/api/v1/sessions", { bearer: "ova_wrong" })).status).toBe(401)
  })

  it("a pairing key pairs a headless machine: single-use once, then refused", async () => {
    const admin = await adminOf(world)
    const made = await world.call("/api/v1/pairing-keys", {
      cookie: admin.cookie,
      body: { singleUse: true, ttlMinutes: 5 },
    })
    expect(made.status).toBe(201)
    const { key } = made.body as Api.CreatedPairingKey
    const first = await world.call("/api/v1/pairing-keys/redeem", {
      body: { key, machineId: "pk-1", machineName: "ci" },
    })
    expect(first.status).toBe(200)
    expect((first.body as Api.MachineCredential).machineId).toBe("pk-1")
    const sync = await world.syncSocket((first.body as Api.MachineCredential).token, "pk-1")
    await sync.waitFor((m) => m.type === "welcome", "welcome")
    sync.ws.close()
    const second = await world.call("/api/v1/pairing-keys/redeem", {
      body: { key, machineId: "pk-2", machineName: "ci" },
    })
    expect(second.status).toBe(401)
  })

  it("device flow: pending (428), slow down (429), approve, token once, then expired; deny; unknown code", async () => {
    const admin = await adminOf(world)
    const code = await world.call("/api/v1/device/code", { body: { machineId: "dev-1", machineName: "laptop" } })
    const dc = code.body as Api.DeviceCode
    expect(dc).toMatchObject({ interval: 2, expiresIn: 600 })
    expect(dc.userCode).toMatch(/^[B-Z]{4}-[B-Z]{4}$/)
    expect(dc.verificationUrl).toBe(`${world.url}/device?code=${dc.userCode}`)
    expect((await world.call("/api/v1/device/token", { body: { deviceCode: dc.deviceCode } })).status).toBe(428)
    expect((await world.call("/api/v1/device/token", { body: { deviceCode: dc.deviceCode } })).status).toBe(429)
    // Approving needs a signed-in user.
    expect((await world.call(`/api/v1/device/${dc.userCode}/approve`, { method: "POST" })).status).toBe(401)
    const info = await world.call(`/api/v1/device/${dc.userCode}`, { cookie: admin.cookie })
    expect(info.body).toMatchObject({ userCode: dc.userCode, machineName: "laptop", status: "pending" })
    const ok = await world.call(`/api/v1/device/${dc.userCode}/approve`, { method: "POST", cookie: admin.cookie })
    expect(ok.body).toMatchObject({ status: "approved" })
    expect(
      (await world.call(`/api/v1/device/${dc.userCode}/deny`, { method: "POST", cookie: admin.cookie })).status,
    ).toBe(409)
    await Bun.sleep(2_000)
    const token = await world.call("/api/v1/device/token", { body: { deviceCode: dc.deviceCode } })
    expect(token.status).toBe(200)
    expect(token.body).toMatchObject({ status: "approved", machineId: "dev-1", token: expect.stringMatching(/^ovm_/) })
    await Bun.sleep(2_000)
    expect((await world.call("/api/v1/device/token", { body: { deviceCode: dc.deviceCode } })).status).toBe(410)

    const denied = (await world.call("/api/v1/device/code", { body: { machineId: "dev-2", machineName: "x" } }))
      .body as Api.DeviceCode
    await world.call(`/api/v1/device/${denied.userCode}/deny`, { method: "POST", cookie: admin.cookie })
    const refused = await world.call("/api/v1/device/token", { body: { deviceCode: denied.deviceCode } })
    expect([refused.status, refused.body]).toEqual([403, { status: "denied" }])
    expect((await world.call("/api/v1/device/BBBB-CCCC", { cookie: admin.cookie })).status).toBe(404)
  }, 30_000)

  it("revoking a machine refuses its open sync socket at once, and every later hello", async () => {
    const admin = await adminOf(world)
    const token = await world.pair(admin, "rev-1")
    const sync = await world.syncSocket(token, "rev-1")
    await sync.waitFor((m) => m.type === "welcome", "welcome")
    await sync.append(SID, userLine(SID, "u1", "before the revoke"))
    const revoked = await world.call("/api/v1/machines/rev-1/revoke", { method: "POST", cookie: admin.cookie })
    expect(revoked.status).toBe(204)
    const refusal = (await sync.waitFor((m) => m.type === "refused", "refusal")) as Sync.Refused
    expect(refusal.code).toBe("unauthorized")
    expect(refusal.message).toContain(REPAIR_HINT)
    expect(refusal.message).toContain("overlord login")
    expect(await sync.closed).toBe(4000)
    const again = await world.syncSocket(token, "rev-1")
    const second = (await again.waitFor((m) => m.type === "refused", "refusal")) as Sync.Refused
    expect(second.message).toContain("overlord login")
    const machines = (await world.call("/api/v1/machines", { cookie: admin.cookie })).body as {
      machines: (Api.Machine & { revoked?: boolean })[]
    }
    expect(machines.machines.find((m) => m.machineId === "rev-1")?.revoked).toBe(true)
    // The machine token reads no more either.
    expect((await world.call("/api/v1/sessions", { bearer: token })).status).toBe(401)
  })

  it("logout: a machine revokes itself with its own token; a machine token reads but cannot write", async () => {
    const admin = await adminOf(world)
    const token = await world.pair(admin, "self-1")
    expect((await world.call("/api/v1/sessions", { bearer: token })).status).toBe(200)
    // Not for anything but reads: no tokens, no invites with a machine token.
    expect((await world.call("/api/v1/tokens", { bearer: token, body: {} })).status).toBe(401)
    // Nor another machine's revoke.
    expect((await world.call("/api/v1/machines/rev-1/revoke", { method: "POST", bearer: token })).status).toBe(401)
    expect((await world.call("/api/v1/machines/self-1/revoke", { method: "POST", bearer: token })).status).toBe(204)
    expect((await world.call("/api/v1/sessions", { bearer: token })).status).toBe(401)
  })

  it("renames a machine: unique among the user's machines (409), kept at its daemon's next hello, told to live dashboards", async () => {
    const admin = await adminOf(world)
    const member = await world.invite(admin, "rename@example.com", "Renamer")
    const tokens: Record<string, string> = {}
    const hello = async (machineId: string) => {
      const sync = await world.syncSocket(tokens[machineId]!, machineId)
      await sync.waitFor((m) => m.type === "welcome", "welcome")
      sync.ws.close()
      await sync.closed
    }
    const names = async () =>
      Object.fromEntries(
        (
          (await world.call("/api/v1/machines", { cookie: member.cookie })).body as { machines: Api.Machine[] }
        ).machines.map((m) => [m.machineId, m.name]),
      )
    for (const id of ["ren-1", "ren-2"]) {
      tokens[id] = await world.pair(member, id)
      await hello(id)
    }
    // Both daemons said "laptop": the second is told apart by the server, as the CLI would.
    expect(await names()).toEqual({ "ren-1": "laptop", "ren-2": "laptop-2" })

    const live = await world.liveSocket(member, undefined)
    const renamed = await world.call("/api/v1/machines/ren-2/rename", {
      cookie: member.cookie,
      body: { name: "  studio " },
    })
    expect(renamed.status).toBe(200)
    expect(renamed.body).toEqual({ machineId: "ren-2", name: "studio" } satisfies Api.RenamedMachine)
    const deadline = Date.now() + 10_000
    const liveNames = () =>
      (live.messages as unknown as { type: string; machines?: Api.Machine[] }[])
        .filter((m) => m.type === "health")
        .flatMap((m) => m.machines ?? [])
        .filter((m) => m.machineId === "ren-2")
        .map((m) => m.name)
    while (!liveNames().includes("studio") && Date.now() < deadline) await Bun.sleep(10)
    expect(liveNames()).toContain("studio")
    live.ws.close()

    const taken = await world.call("/api/v1/machines/ren-1/rename", { cookie: member.cookie, body: { name: "studio" } })
    expect(taken.status).toBe(409)
    expect((taken.body as Api.ApiError).error.code).toBe("machine_name_taken")
    expect((taken.body as Api.ApiError).error.message).toContain("studio")
    for (const body of [{ name: "   " }, { name: "x".repeat(256) }, {}, { name: 7 }]) {
      expect((await world.call("/api/v1/machines/ren-1/rename", { cookie: member.cookie, body })).status).toBe(400)
    }
    // The daemon reconnects still saying "laptop": the dashboard's name stays.
    await hello("ren-2")
    expect(await names()).toEqual({ "ren-1": "laptop", "ren-2": "studio" })
    // A machine's own token renames it (overlord start --name), not another machine.
    const self = await world.call("/api/v1/machines/ren-1/rename", { bearer: tokens["ren-1"]!, body: { name: "desk" } })
    expect(self.status).toBe(200)
    const other = await world.call("/api/v1/machines/ren-2/rename", { bearer: tokens["ren-1"]!, body: { name: "x" } })
    expect(other.status).toBe(401)
    expect(await names()).toEqual({ "ren-1": "desk", "ren-2": "studio" })
    // A revoked machine is not renamed.
    await world.call("/api/v1/machines/ren-1/revoke", { method: "POST", cookie: member.cookie })
    expect(
      (await world.call("/api/v1/machines/ren-1/rename", { cookie: member.cookie, body: { name: "back" } })).status,
    ).toBe(404)
  })

  it("a paired machine's token gets a one-time sign-in link for its user (overlord open); a revoked one does not", async () => {
    const admin = await adminOf(world)
    const member = await world.invite(admin, "open@example.com", "Opener")
    const token = await world.pair(member, "open-1")
    const made = await world.call("/api/v1/login-links", { method: "POST", bearer: token })
    expect(made.status).toBe(200)
    const link = new URL((made.body as { url: string }).url)
    const signedIn = await world.call(`${link.pathname}${link.search}`)
    expect(signedIn.status).toBe(302)
    const cookie = signedIn.res.headers.get("set-cookie")!.split(";")[0]!
    expect(((await world.call("/api/v1/me", { cookie })).body as Api.Me).user.email).toBe("open@example.com")
    expect((await world.call(`${link.pathname}${link.search}`)).status).toBe(401)
    await world.call("/api/v1/machines/open-1/revoke", { method: "POST", cookie: member.cookie })
    expect((await world.call("/api/v1/login-links", { method: "POST", bearer: token })).status).toBe(401)
  })

  it("only hashes of tokens, keys, links and codes are in the database", async () => {
    const admin = await adminOf(world)
    const member = await world.invite(admin, "hash@example.com", "Hash")
    const machine = await world.pair(member, "hash-1")
    const key = (
      (await world.call("/api/v1/pairing-keys", { cookie: admin.cookie, body: { singleUse: false, ttlMinutes: 5 } }))
        .body as Api.CreatedPairingKey
    ).key
    const invite = new URL(
      ((await world.call("/api/v1/invites", { cookie: admin.cookie, body: {} })).body as Api.CreatedLink).url,
    ).pathname
      .split("/")
      .pop()!
    const code = (await world.call("/api/v1/device/code", { body: { machineId: "hash-2", machineName: "x" } }))
      .body as Api.DeviceCode
    const browser = member.cookie.split("=")[1]!
    const rows = await secretRows(world)
    expect(rows.length).toBeGreaterThan(100)
    for (const secret of [
      member.apiToken,
      machine,
      key,
      invite,
      code.deviceCode,
      code.userCode,
      decodeURIComponent(browser),
    ]) {
      expect(rows).not.toContain(secret)
      expect(rows).not.toContain(secret.replace(/^ov._/, "").replace("-", ""))
    }
  })

  it("the OpenAPI document lists the account routes with their bodies", async () => {
    const doc = (await world.call("/api/v1/openapi.json", { cookie: (await adminOf(world)).cookie })).body as {
      paths: Record<string, Record<string, { requestBody?: unknown; security?: unknown[] }>>
    }
    expect(Object.keys(doc.paths["/api/v1/device/token"]!)).toEqual(["post"])
    expect(doc.paths["/api/v1/device/token"]!.post!.security).toEqual([])
    expect(doc.paths["/api/v1/sessions/{sessionId}/shares"]!.post!.requestBody).toBeDefined()
    expect(Object.keys(doc.paths["/api/v1/tokens"]!).sort()).toEqual(["get", "post"])
    expect(doc.paths["/api/v1/me"]!.get).toBeDefined()
    const rename = doc.paths["/api/v1/machines/{machineId}/rename"]!.post as {
      requestBody?: unknown
      responses: Record<string, unknown>
    }
    expect(rename.requestBody).toBeDefined()
    expect(Object.keys(rename.responses)).toEqual(expect.arrayContaining(["200", "404", "409"]))
  })

  it("rate-limits the unauthenticated routes", async () => {
    let limited = 0
    for (let i = 0; i < 100; i++) {
      const res = await world.call("/api/v1/device/code", { body: { machineId: `rl-${i}`, machineName: "x" } })
      if (res.status === 429) limited += 1
    }
    expect(limited).toBeGreaterThan(0)
  })
})

/** The admin the first case made (root@example.com), signed in again through a fresh browser token. */
async function adminOf(world: World) {
  const root = await world.engine.findUserByEmail("root@example.com")
  if (!root) throw new Error("the setup case did not run first")
  const browser = await world.engine.issueToken({ userId: root.userId, kind: "browser", ttlMs: 60_000 })
  return {
    userId: root.userId,
    email: "root@example.com",
    cookie: `overlord_session=${encodeURIComponent(browser)}`,
    apiToken: "",
  }
}

describe("a revoke that lands while a hello's token check is under way", () => {
  let world: World
  /** While set, a machine token's verification waits for it after the store has answered. */
  let gate: Promise<void> | null = null
  let checked: () => void = () => {}
  const holdMachineChecks = (store: StoreApi): StoreApi => ({
    ...store,
    verifyToken: (token, kinds) =>
      store.verifyToken(token, kinds).pipe(
        Effect.tap(() =>
          kinds.includes("machine") && gate
            ? Effect.promise(() => {
                checked()
                return gate!
              })
            : Effect.void,
        ),
      ),
  })
  beforeAll(async () => {
    world = await World.start("sqlite", holdMachineChecks)
  }, 60_000)
  afterAll(async () => {
    await world?.close()
  })

  it("still refuses the connection (the token was valid when read, revoked before the socket was watched)", async () => {
    const admin = await world.setupAdmin("race@example.com", "Race")
    const token = await world.pair(admin, "race-1")
    let release: () => void = () => {}
    gate = new Promise((resolve) => {
      release = resolve
    })
    const reached = new Promise<void>((resolve) => {
      checked = resolve
    })
    const sync = await world.syncSocket(token, "race-1")
    await reached
    // The hello's check has read a valid token; the revoke commits and closes what is open (nothing yet).
    gate = null
    expect((await world.call("/api/v1/machines/race-1/revoke", { method: "POST", cookie: admin.cookie })).status).toBe(
      204,
    )
    release()
    const refusal = (await sync.waitFor(
      (m) => m.type === "refused" || m.type === "welcome",
      "an answer",
    )) as Sync.ServerMessage
    expect(refusal.type).toBe("refused")
    expect(await sync.closed).toBe(4000)
  })
})
