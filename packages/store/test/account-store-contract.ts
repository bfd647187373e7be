/**
 * The accounts contract (issue #11 §3–§5): users with e-mail and role, one-time setup and invite
 * links, API tokens and pairing keys, machine revocation, the device-code flow and session shares.
 * Not a test file: each engine's test file calls `runAccountStoreContract`.
 */
import type { Sync } from "@overlord/protocol"
import type { Actor, Engine } from "@overlord/store"
import { afterEach, describe, expect, it } from "vitest"

export interface AccountStoreContractOptions {
  readonly name: string
  readonly makeEngine: () => Engine | Promise<Engine>
  /** Every value of every row of `table`, as text (to check that no secret is stored in plaintext). */
  readonly tableText: (engine: Engine, table: string) => Promise<string>
  readonly skip?: boolean | string
}

/** Tables that hold credentials or the codes that lead to them. */
const SECRET_TABLES = ["tokens", "token_labels", "account_links", "device_codes"]
const SID = "aaaaaaaa-2222-3333-4444-555555555555"
const MINUTE = 60_000

async function sessionOf(engine: Engine, actor: Actor, machineUid: string, sessionId = SID): Promise<void> {
  const { machineId } = await engine.openMachine(actor, machineUid, "laptop")
  const line = JSON.stringify({
    type: "user",
    uuid: `u-${machineUid}`,
    parentUuid: null,
    sessionId,
    cwd: "/home/dev/proj",
    timestamp: "2026-11-01T10:00:00.000Z",
    isSidechain: false,
    message: { role: "user", content: "secret plans" },
  })
  const payload = new TextEncoder().encode(`${line}\n`)
  const header: Sync.AppendHeader = {
    type: "append",
    seq: 1,
    fileKey: `-home-dev-proj/${sessionId}.jsonl`,
    generation: 0,
    identity: "1:1",
    fromOffset: 0,
    toOffset: payload.length,
  }
  const [out] = await engine.append({ userId: actor.userId, machineId }, [{ header, payload }])
  expect(out?._tag).toBe("Ack")
}

export function runAccountStoreContract(options: AccountStoreContractOptions): void {
  const opened: Engine[] = []
  const make = async () => {
    const engine = await options.makeEngine()
    opened.push(engine)
    return engine
  }
  afterEach(async () => {
    for (const engine of opened.splice(0)) await engine.close()
  })
  const setupAdmin = async (engine: Engine) => {
    const link = await engine.createAccountLink({ kind: "setup", createdBy: null, role: "admin", ttlMs: MINUTE })
    const out = await engine.acceptAccountLink(link.token, "setup", "Ada@Example.com", "Ada")
    if (out._tag !== "Accepted") throw new Error(`setup refused: ${out._tag}`)
    return out.user
  }
  /** An invite link `admin` makes, for `ttlMs`. */
  const inviteLink = (engine: Engine, admin: Actor, ttlMs = MINUTE) =>
    engine.createAccountLink({ kind: "invite", createdBy: admin.userId, role: "member", ttlMs })
  const invite = async (engine: Engine, admin: Actor, email: string, name: string) => {
    const link = await inviteLink(engine, admin)
    const out = await engine.acceptAccountLink(link.token, "invite", email, name)
    if (out._tag !== "Accepted") throw new Error(`invite refused: ${out._tag}`)
    return out.user
  }

  describe.skipIf(Boolean(options.skip))(`account store contract: ${options.name}`, () => {
    it("a setup link makes the first admin once, and none once an admin exists", async () => {
      const engine = await make()
      expect(await engine.hasAdmin()).toBe(false)
      const link = await engine.createAccountLink({ kind: "setup", createdBy: null, role: "admin", ttlMs: MINUTE })
      expect(await engine.accountLinkStatus(link.token)).toMatchObject({ kind: "setup", valid: true })
      const out = await engine.acceptAccountLink(link.token, "setup", " Ada@Example.com ", "Ada")
      expect(out).toMatchObject({ _tag: "Accepted", user: { email: "ada@example.com", name: "Ada", role: "admin" } })
      expect(await engine.hasAdmin()).toBe(true)
      expect((await engine.acceptAccountLink(link.token, "setup", "eve@example.com", "Eve"))._tag).toBe("Invalid")
      expect(await engine.accountLinkStatus(link.token)).toMatchObject({ valid: false })
      // A second setup link, made before the first was used, is refused once an admin exists.
      const late = await engine.createAccountLink({ kind: "setup", createdBy: null, role: "admin", ttlMs: MINUTE })
      expect((await engine.acceptAccountLink(late.token, "setup", "eve@example.com", "Eve"))._tag).toBe("Invalid")
      // An invite token is not a setup token, and an unknown one is nothing.
      expect((await engine.acceptAccountLink("ovs_nope", "setup", "eve@example.com", "Eve"))._tag).toBe("Invalid")
      expect(await engine.accountLinkStatus("ovs_nope")).toBeNull()
    })

    it("an invite link works once, expires, and never takes an e-mail already in use", async () => {
      const engine = await make()
      const admin = await setupAdmin(engine)
      const link = await inviteLink(engine, admin)
      expect((await engine.acceptAccountLink(link.token, "setup", "bob@example.com", "Bob"))._tag).toBe("Invalid")
      const taken = await engine.acceptAccountLink(link.token, "invite", "ADA@example.com", "Ada again")
      expect(taken._tag).toBe("EmailTaken")
      const bob = await engine.acceptAccountLink(link.token, "invite", "bob@example.com", "Bob")
      expect(bob).toMatchObject({ _tag: "Accepted", user: { role: "member", name: "Bob" } })
      expect((await engine.acceptAccountLink(link.token, "invite", "carl@example.com", "Carl"))._tag).toBe("Invalid")
      const expired = await inviteLink(engine, admin, -1)
      expect((await engine.acceptAccountLink(expired.token, "invite", "carl@example.com", "Carl"))._tag).toBe("Invalid")
      expect(await engine.findUserByEmail("BOB@example.com")).toMatchObject({ name: "Bob" })
      expect(await engine.getUser(admin.userId)).toEqual(admin)
      // The embedded server's user has no profile: a member without e-mail.
      const local = await engine.ensureUser("local")
      expect(await engine.getUser(local)).toEqual({ userId: local, email: null, name: "local", role: "member" })
    })

    it("lists and revokes a user's own API tokens and pairing keys only", async () => {
      const engine = await make()
      const admin = await setupAdmin(engine)
      const bob = await invite(engine, admin, "bob@example.com", "Bob")
      const api = await engine.issueToken({ userId: admin.userId, kind: "api", label: "ci" })
      await engine.issueToken({ userId: admin.userId, kind: "pairing-key", ttlMs: MINUTE, singleUse: false })
      const tokens = await engine.listTokens(admin)
      expect(tokens.map((t) => [t.kind, t.label, t.singleUse, t.revoked])).toEqual([
        ["pairing-key", null, false, false],
        ["api", "ci", false, false],
      ])
      const apiId = tokens[1]!.tokenId
      expect(await engine.revokeToken(bob, apiId)).toBe(false)
      expect(await engine.verifyToken(api, ["api"])).not.toBeNull()
      expect(await engine.revokeToken(admin, apiId)).toBe(true)
      expect(await engine.verifyToken(api, ["api"])).toBeNull()
      expect(await engine.listTokens(bob)).toEqual([])
    })

    it("a pairing key gives a machine token: single-use once, multi-use until revoked; only hashes are stored", async () => {
      const engine = await make()
      const admin = await setupAdmin(engine)
      const once = await engine.issueToken({ userId: admin.userId, kind: "pairing-key", ttlMs: MINUTE })
      const many = await engine.issueToken({
        userId: admin.userId,
        kind: "pairing-key",
        ttlMs: MINUTE,
        singleUse: false,
      })
      const first = await engine.redeemPairingKey(once, "m-1")
      expect(first?.userId).toBe(admin.userId)
      expect(await engine.verifyToken(first!.token, ["machine"])).toEqual({
        userId: admin.userId,
        kind: "machine",
        machineUid: "m-1",
      })
      expect(await engine.redeemPairingKey(once, "m-2")).toBeNull()
      expect(await engine.redeemPairingKey(many, "m-2")).not.toBeNull()
      expect(await engine.redeemPairingKey(many, "m-3")).not.toBeNull()
      const expired = await engine.issueToken({ userId: admin.userId, kind: "pairing-key", ttlMs: -1 })
      expect(await engine.redeemPairingKey(expired, "m-4")).toBeNull()
      // A pairing key is not an API token, nor the other way round.
      expect(await engine.verifyToken(many, ["api"])).toBeNull()
      const api = await engine.issueToken({ userId: admin.userId, kind: "api" })
      expect(await engine.redeemPairingKey(api, "m-5")).toBeNull()
      const device = await engine.createDeviceCode({ machineUid: "m-6", machineName: "box", ttlMs: MINUTE })
      const link = await inviteLink(engine, admin)
      const text = (await Promise.all(SECRET_TABLES.map((t) => options.tableText(engine, t)))).join("\n")
      for (const secret of [once, many, first!.token, api, device.deviceCode, device.userCode, link.token]) {
        expect(text).not.toContain(secret)
        // Nor the part after the kind prefix (`ovm_…`), nor the user code without its dash.
        expect(text).not.toContain(secret.replace(/^ov._/, "").replace("-", ""))
      }
      expect(text.length).toBeGreaterThan(0)
    })

    it("revoking a machine refuses its token, lists it revoked, and pairing again lifts it", async () => {
      const engine = await make()
      const admin = await setupAdmin(engine)
      const bob = await invite(engine, admin, "bob@example.com", "Bob")
      const token = await engine.issueToken({ userId: admin.userId, kind: "machine", machineUid: "m-1" })
      await engine.openMachine(admin, "m-1", "laptop")
      expect(await engine.revokeMachine(bob, "m-1")).toBe(false)
      expect(await engine.verifyToken(token, ["machine"])).not.toBeNull()
      expect(await engine.revokeMachine(admin, "m-1")).toBe(true)
      expect(await engine.verifyToken(token, ["machine"])).toBeNull()
      expect(await engine.revokedMachines(admin)).toEqual([
        { machineId: "m-1", name: "laptop", lastSeenAt: expect.any(String) },
      ])
      expect(await engine.listMachines(admin)).toEqual([])
      expect(await engine.revokedMachines(bob)).toEqual([])
      const again = await engine.issueToken({ userId: admin.userId, kind: "machine", machineUid: "m-1" })
      expect(await engine.verifyToken(again, ["machine"])).not.toBeNull()
      expect(await engine.revokedMachines(admin)).toEqual([])
    })

    it("device codes: pending, slow down, approved once (then spent), denied, expired", async () => {
      const engine = await make()
      const admin = await setupAdmin(engine)
      const code = await engine.createDeviceCode({ machineUid: "m-1", machineName: "laptop", ttlMs: 10 * MINUTE })
      expect(code.userCode).toMatch(/^[B-Z]{4}-[B-Z]{4}$/)
      expect(await engine.pollDeviceCode(code.deviceCode, 0)).toEqual({ status: "pending" })
      expect(await engine.pollDeviceCode(code.deviceCode, MINUTE)).toEqual({ status: "slow_down" })
      const typed = code.userCode.toLowerCase().replace("-", " ")
      expect(await engine.getDeviceRequest(typed)).toMatchObject({ machineName: "laptop", status: "pending" })
      expect(await engine.decideDeviceRequest(admin, code.userCode, true)).toMatchObject({ status: "approved" })
      // Decided once: a later deny changes nothing.
      expect(await engine.decideDeviceRequest(admin, code.userCode, false)).toMatchObject({ status: "approved" })
      const got = await engine.pollDeviceCode(code.deviceCode, 0)
      if (got.status !== "approved") throw new Error(`expected approved, got ${got.status}`)
      expect(got.machineUid).toBe("m-1")
      expect(await engine.verifyToken(got.token, ["machine"])).toMatchObject({
        userId: admin.userId,
        machineUid: "m-1",
      })
      expect(await engine.pollDeviceCode(code.deviceCode, 0)).toEqual({ status: "expired" })

      const denied = await engine.createDeviceCode({ machineUid: "m-2", machineName: "x", ttlMs: MINUTE })
      await engine.decideDeviceRequest(admin, denied.userCode, false)
      expect(await engine.pollDeviceCode(denied.deviceCode, 0)).toEqual({ status: "denied" })
      const expired = await engine.createDeviceCode({ machineUid: "m-3", machineName: "x", ttlMs: -1 })
      expect(await engine.pollDeviceCode(expired.deviceCode, 0)).toEqual({ status: "expired" })
      expect(await engine.decideDeviceRequest(admin, expired.userCode, true)).toMatchObject({ status: "expired" })
      expect(await engine.pollDeviceCode("ovd_unknown", 0)).toEqual({ status: "expired" })
      expect(await engine.getDeviceRequest("BBBB-BBBB")).toBeNull()
      expect(await engine.getDeviceRequest("not a code")).toBeNull()
    })

    it("a share gives the grantee the owner's session id, and stops when withdrawn", async () => {
      const engine = await make()
      const admin = await setupAdmin(engine)
      const bob = await invite(engine, admin, "bob@example.com", "Bob")
      const carl = await invite(engine, admin, "carl@example.com", "Carl")
      await sessionOf(engine, admin, "m-a")
      expect(await engine.shareSession(bob, SID, "carl@example.com")).toEqual({ _tag: "NoSession" })
      expect(await engine.shareSession(admin, SID, "nobody@example.com")).toEqual({ _tag: "NoUser" })
      expect(await engine.shareSession(admin, SID, "ada@example.com")).toEqual({ _tag: "NoUser" })
      const shared = await engine.shareSession(admin, SID, "Bob@example.com")
      expect(shared).toMatchObject({ _tag: "Shared", share: { userId: bob.userId, name: "Bob" } })
      // Sharing twice keeps one share.
      await engine.shareSession(admin, SID, "bob@example.com")
      expect((await engine.listShares(admin, SID))!.map((s) => s.userId)).toEqual([bob.userId])
      expect(await engine.listShares(bob, SID)).toBeNull()
      expect(await engine.sharedSessionOwner(bob, SID)).toBe(admin.userId)
      expect(await engine.sharedSessionOwner(carl, SID)).toBeNull()
      expect(await engine.listSharedWithMe(bob)).toMatchObject([
        { sessionId: SID, owner: { userId: admin.userId, name: "Ada" }, title: "secret plans" },
      ])
      // The share is not the session: bob's own reads still see nothing of it.
      expect(await engine.getSession(bob, SID)).toBeNull()
      expect(await engine.unshareSession(carl, SID, bob.userId)).toBe(false)
      expect(await engine.unshareSession(admin, SID, bob.userId)).toBe(true)
      expect(await engine.sharedSessionOwner(bob, SID)).toBeNull()
      expect(await engine.listSharedWithMe(bob)).toEqual([])
    })

    /** Four calls of `use` at once. */
    const atOnce = <A>(use: (i: number) => A | Promise<A>) => Promise.all(Array.from({ length: 4 }, (_, i) => use(i)))

    it("a pairing key used at the same moment: a single-use one gives one machine token, a multi-use one each", async () => {
      const engine = await make()
      const admin = await setupAdmin(engine)
      // Several rounds: a lost race shows in one of them (MySQL refused some as deadlocks before, 3 of 3 runs).
      for (let round = 0; round < 5; round++) {
        const once = await engine.issueToken({ userId: admin.userId, kind: "pairing-key", ttlMs: MINUTE })
        const redeemed = await atOnce((i) => engine.redeemPairingKey(once, `m-${round}-${i}`))
        expect(redeemed.filter((r) => r !== null)).toHaveLength(1)
        const many = await engine.issueToken({
          userId: admin.userId,
          kind: "pairing-key",
          ttlMs: MINUTE,
          singleUse: false,
        })
        const fleet = await atOnce((i) => engine.redeemPairingKey(many, `f-${round}-${i}`))
        const tokens = fleet.map((r) => r?.token)
        expect(new Set(tokens).size).toBe(4)
        for (const [i, token] of tokens.entries()) {
          expect(await engine.verifyToken(token!, ["machine"])).toMatchObject({ machineUid: `f-${round}-${i}` })
        }
      }
    })

    it("a login link used at the same moment lets one browser in", async () => {
      const engine = await make()
      const admin = await setupAdmin(engine)
      const login = await engine.issueToken({ userId: admin.userId, kind: "login-link", ttlMs: MINUTE })
      const consumed = await atOnce(() => engine.consumeToken(login, "login-link"))
      expect(consumed.filter((g) => g !== null)).toEqual([
        { userId: admin.userId, kind: "login-link", machineUid: null },
      ])
    })

    it("an invite link used at the same moment makes one user", async () => {
      const engine = await make()
      const admin = await setupAdmin(engine)
      const link = await inviteLink(engine, admin)
      const accepted = await atOnce((i) => engine.acceptAccountLink(link.token, "invite", `u${i}@example.com`, `U${i}`))
      expect(accepted.map((a) => a._tag).sort()).toEqual(["Accepted", "Invalid", "Invalid", "Invalid"])
    })

    it("an approved device code polled at the same moment delivers one machine token", async () => {
      const engine = await make()
      const admin = await setupAdmin(engine)
      const code = await engine.createDeviceCode({ machineUid: "m-dev", machineName: "box", ttlMs: MINUTE })
      await engine.decideDeviceRequest(admin, code.userCode, true)
      const polls = await atOnce(() => engine.pollDeviceCode(code.deviceCode, 0))
      expect(polls.map((p) => p.status).sort()).toEqual(["approved", "expired", "expired", "expired"])
    })

    it("a machine's name is unique among its user's live machines: a clashing hello becomes -2, -3, …", async () => {
      const engine = await make()
      const admin = await setupAdmin(engine)
      const bob = await invite(engine, admin, "bob@example.com", "Bob")
      const names = async (actor: Actor) =>
        Object.fromEntries((await engine.listMachines(actor)).map((m) => [m.machineId, m.name]))
      await engine.openMachine(admin, "m-1", "laptop")
      await engine.openMachine(admin, "m-2", "laptop")
      await engine.openMachine(admin, "m-3", "laptop")
      // Another user's machines are not counted; names compare exactly (the CLI's rule).
      await engine.openMachine(bob, "b-1", "laptop")
      await engine.openMachine(admin, "m-4", "Laptop")
      expect(await names(admin)).toEqual({ "m-1": "laptop", "m-2": "laptop-2", "m-3": "laptop-3", "m-4": "Laptop" })
      expect(await names(bob)).toEqual({ "b-1": "laptop" })
      // A name this rule gave starts again from its base: "laptop-4", never "laptop-2-2".
      await engine.openMachine(admin, "m-5", "laptop-2")
      expect((await names(admin))["m-5"]).toBe("laptop-4")
      // The next hello saying the same name keeps the name the server gave.
      await engine.openMachine(admin, "m-2", "laptop")
      expect((await names(admin))["m-2"]).toBe("laptop-2")
      // A revoked machine's name is free; pairing it again tells it apart if it was taken meanwhile.
      expect(await engine.revokeMachine(admin, "m-1")).toBe(true)
      await engine.openMachine(admin, "m-6", "laptop")
      expect((await names(admin))["m-6"]).toBe("laptop")
      await engine.issueToken({ userId: admin.userId, kind: "machine", machineUid: "m-1" })
      expect((await names(admin))["m-1"]).toBe("laptop-5")
      // A child machine (a sandbox) is named the same way.
      expect(await engine.adoptChildMachine(admin, "m-2", "sbx-1", "laptop", "sandbox")).toBe(true)
      expect((await names(admin))["sbx-1"]).toBe("laptop-6")
      const all = Object.values(await names(admin))
      expect(new Set(all).size).toBe(all.length)
    })

    it("renames only the user's own live machine, refuses a name another of theirs has, and keeps the rename at the next hello", async () => {
      const engine = await make()
      const admin = await setupAdmin(engine)
      const bob = await invite(engine, admin, "bob@example.com", "Bob")
      const nameOf = async (actor: Actor, machineUid: string) =>
        (await engine.listMachines(actor)).find((m) => m.machineId === machineUid)?.name
      await engine.openMachine(admin, "m-1", "laptop")
      await engine.openMachine(admin, "m-2", "desk")
      await engine.openMachine(bob, "b-1", "bob's")
      expect(await engine.renameMachine(admin, "m-1", "  travel laptop ")).toEqual({
        _tag: "Renamed",
        machineId: "m-1",
        name: "travel laptop",
      })
      expect(await nameOf(admin, "m-1")).toBe("travel laptop")
      // The daemon reconnects still saying its old name: the rename stays.
      await engine.openMachine(admin, "m-1", "laptop")
      expect(await nameOf(admin, "m-1")).toBe("travel laptop")
      // Taken by another of the user's machines: refused, not de-duplicated. The same name again is fine.
      expect(await engine.renameMachine(admin, "m-2", "travel laptop")).toEqual({
        _tag: "NameTaken",
        name: "travel laptop",
      })
      expect(await nameOf(admin, "m-2")).toBe("desk")
      expect((await engine.renameMachine(admin, "m-1", "travel laptop"))._tag).toBe("Renamed")
      // Another user's name is no clash; another user's machine is not found, for either of them.
      expect((await engine.renameMachine(bob, "b-1", "desk"))._tag).toBe("Renamed")
      expect(await engine.renameMachine(bob, "m-1", "mine now")).toEqual({ _tag: "NotFound" })
      expect(await engine.renameMachine(admin, "b-1", "mine now")).toEqual({ _tag: "NotFound" })
      expect(await nameOf(admin, "m-1")).toBe("travel laptop")
      expect(await nameOf(bob, "b-1")).toBe("desk")
      expect(await engine.renameMachine(admin, "m-1", "   ")).toEqual({ _tag: "Invalid" })
      expect(await engine.renameMachine(admin, "m-1", "x".repeat(256))).toEqual({ _tag: "Invalid" })
      expect((await engine.renameMachine(admin, "m-1", "é".repeat(255)))._tag).toBe("Renamed")
      expect(await nameOf(admin, "m-1")).toBe("é".repeat(255))
      // A name the laptop changed (overlord start --name) replaces the dashboard's, told apart if taken.
      await engine.openMachine(admin, "m-1", "desk")
      expect(await nameOf(admin, "m-1")).toBe("desk-2")
      // A revoked machine is not renamed.
      expect(await engine.revokeMachine(admin, "m-2")).toBe(true)
      expect(await engine.renameMachine(admin, "m-2", "gone")).toEqual({ _tag: "NotFound" })
    })

    it("hellos and renames of one user's machines at the same moment never give two machines one name", async () => {
      const engine = await make()
      const admin = await setupAdmin(engine)
      const uids = ["m-1", "m-2", "m-3", "m-4"]
      await Promise.all(uids.map((uid) => engine.openMachine(admin, uid, "twin")))
      const listed = (await engine.listMachines(admin)).map((m) => m.name).sort()
      expect(listed).toEqual(["twin", "twin-2", "twin-3", "twin-4"])
      const renamed = await Promise.all(uids.map((uid) => engine.renameMachine(admin, uid, "only one")))
      expect(renamed.filter((r) => r._tag === "Renamed")).toHaveLength(1)
      expect(renamed.filter((r) => r._tag === "NameTaken")).toHaveLength(3)
    })

    it("a child machine belongs to its parent only, and goes with it when it is revoked", async () => {
      const engine = await make()
      const admin = await setupAdmin(engine)
      const bob = await invite(engine, admin, "bob@example.com", "Bob")
      await engine.openMachine(admin, "laptop", "laptop")
      await engine.openMachine(admin, "desk", "desk")
      await engine.openMachine(bob, "bob-laptop", "laptop")
      expect(await engine.adoptChildMachine(admin, "laptop", "sbx-1", "sandbox 1", "sandbox")).toBe(true)
      // Again (the sandbox's next hello): still its child.
      expect(await engine.adoptChildMachine(admin, "laptop", "sbx-1", "sandbox 1", "sandbox")).toBe(true)
      // Not another parent's, not the user's own machine, not the parent itself, not another user's.
      expect(await engine.adoptChildMachine(admin, "desk", "sbx-1", "sandbox 1", "sandbox")).toBe(false)
      expect(await engine.adoptChildMachine(admin, "laptop", "desk", "desk", "sandbox")).toBe(false)
      expect(await engine.adoptChildMachine(admin, "laptop", "laptop", "laptop", "sandbox")).toBe(false)
      expect(await engine.adoptChildMachine(bob, "laptop", "sbx-2", "sandbox 2", "sandbox")).toBe(false)
      expect(await engine.adoptChildMachine(bob, "bob-laptop", "sbx-1", "sandbox 1", "sandbox")).toBe(true)
      // Hellos of one new child at once: one machine, one parent.
      const racing = await Promise.all(
        [1, 2, 3].map(() => engine.adoptChildMachine(admin, "laptop", "sbx-3", "sandbox 3", "sandbox")),
      )
      expect(racing).toEqual([true, true, true])

      expect(await engine.revokeMachine(bob, "laptop")).toBe(false)
      expect(await engine.revokeMachine(admin, "laptop")).toBe(true)
      // Revoked before: still the user's machine (MySQL counts a row that did not change as none).
      expect(await engine.revokeMachine(admin, "laptop")).toBe(true)
      expect((await engine.revokedMachines(admin)).map((m) => m.machineId)).toEqual(["laptop", "sbx-1", "sbx-3"])
      expect((await engine.listMachines(admin)).map((m) => m.machineId)).toEqual(["desk"])
      // Bob's own sbx-1 is not admin's.
      expect(await engine.revokedMachines(bob)).toEqual([])
      // A revoked parent adopts nothing, and a revoked child is not taken back.
      expect(await engine.adoptChildMachine(admin, "laptop", "sbx-4", "sandbox 4", "sandbox")).toBe(false)
      expect(await engine.adoptChildMachine(admin, "desk", "sbx-3", "sandbox 3", "sandbox")).toBe(false)
      // Paired again, the parent brings back the children revoked with it, not one revoked on its own before.
      await engine.openMachine(admin, "desk", "desk")
      expect(await engine.adoptChildMachine(admin, "desk", "sbx-5", "sandbox 5", "sandbox")).toBe(true)
      expect(await engine.adoptChildMachine(admin, "desk", "sbx-6", "sandbox 6", "sandbox")).toBe(true)
      expect(await engine.revokeMachine(admin, "sbx-6")).toBe(true)
      await new Promise((resolve) => setTimeout(resolve, 5))
      expect(await engine.revokeMachine(admin, "desk")).toBe(true)
      await engine.issueToken({ userId: admin.userId, kind: "machine", machineUid: "laptop" })
      expect((await engine.listMachines(admin)).map((m) => m.machineId).sort()).toEqual(["laptop", "sbx-1", "sbx-3"])
      expect(await engine.adoptChildMachine(admin, "laptop", "sbx-1", "sandbox 1", "sandbox")).toBe(true)
      await engine.issueToken({ userId: admin.userId, kind: "machine", machineUid: "desk" })
      expect((await engine.listMachines(admin)).map((m) => m.machineId).sort()).toEqual([
        "desk",
        "laptop",
        "sbx-1",
        "sbx-3",
        "sbx-5",
      ])
      expect(await engine.adoptChildMachine(admin, "desk", "sbx-6", "sandbox 6", "sandbox")).toBe(false)
      // Revoking a token twice says true twice; another user's is not found.
      const api = await engine.issueToken({ userId: admin.userId, kind: "api" })
      const [listed] = await engine.listTokens(admin)
      expect(await engine.revokeToken(admin, listed!.tokenId)).toBe(true)
      expect(await engine.revokeToken(admin, listed!.tokenId)).toBe(true)
      expect(await engine.revokeToken(bob, listed!.tokenId)).toBe(false)
      expect(await engine.verifyToken(api, ["api"])).toBeNull()
    })
  })
}
