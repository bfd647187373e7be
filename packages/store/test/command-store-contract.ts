/**
 * The `CommandStore` contract: every engine must pass it. Not a test file: each engine's own test
 * file calls `runCommandStoreContract` beside `runStoreContract`.
 */
import type { Commands } from "@overlord/protocol"
import type { Engine, MachineActor, NewCommand } from "@overlord/store"
import { afterEach, describe, expect, it } from "vitest"

export interface CommandStoreContractOptions {
  readonly name: string
  /** A new engine on a new, empty database. Closed after each case. */
  readonly makeEngine: () => Engine | Promise<Engine>
  readonly skip?: boolean | string
}

const T0 = "2026-12-01T10:00:00.000Z"
const HOUR_LATER = "2026-12-01T11:00:00.000Z"

const newCommand = (commandId: string, over: Partial<NewCommand> = {}): NewCommand => ({
  commandId,
  kind: "claude",
  where: "local",
  projectDir: "/home/dev/proj",
  prompt: "say hi",
  resumeSessionId: null,
  request: { type: "command", commandId, kind: "claude", prompt: "say hi", projectDir: "/home/dev/proj" },
  createdAt: T0,
  expiresAt: HOUR_LATER,
  ...over,
})

const cli = (message: Record<string, unknown>): Commands.CommandEventBody => ({
  kind: "cli",
  message: message as Commands.CommandEventBody extends { message: infer M } ? M : never,
})

export function runCommandStoreContract(options: CommandStoreContractOptions): void {
  const engines: Engine[] = []
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.close()
  })
  const setup = async () => {
    const engine = await options.makeEngine()
    engines.push(engine)
    const alice = { userId: await engine.ensureUser("alice") }
    const bob = { userId: await engine.ensureUser("bob") }
    const opened = await engine.openMachine(alice, "laptop", "Laptop")
    const machine: MachineActor = { userId: alice.userId, machineId: opened.machineId }
    const bobOpened = await engine.openMachine(bob, "bobs-laptop", "Bob's")
    const bobMachine: MachineActor = { userId: bob.userId, machineId: bobOpened.machineId }
    return { engine, alice, bob, machine, bobMachine }
  }

  describe.skipIf(options.skip)(`command store contract: ${options.name}`, () => {
    it("keeps what a daemon accepts beside its machine, and shows it in the machine list", async () => {
      const { engine, alice, bob, machine } = await setup()
      expect((await engine.getMachineRemote(alice, "laptop"))?.remote).toBeNull()
      expect((await engine.listMachines(alice))[0]?.acceptsCommands).toBe(false)
      await engine.setMachineRemote(machine, { enabled: true, maxConcurrent: 2, maxPromptBytes: 1000, sandbox: false })
      expect((await engine.getMachineRemote(alice, "laptop"))?.remote).toEqual({
        enabled: true,
        maxConcurrent: 2,
        maxPromptBytes: 1000,
        sandbox: false,
      })
      expect((await engine.listMachines(alice))[0]?.acceptsCommands).toBe(true)
      await engine.setMachineRemote(machine, { enabled: false, maxConcurrent: 2, maxPromptBytes: 1000, sandbox: true })
      expect((await engine.getMachineRemote(alice, "laptop"))?.remote?.enabled).toBe(false)
      expect((await engine.listMachines(alice))[0]?.acceptsCommands).toBe(false)
      // Another user's machine is not found, whoever asks by its id.
      expect(await engine.getMachineRemote(bob, "laptop")).toBeNull()
    })

    it("lists what each daemon accepts with its machine (bypassPermissions known or not), for its user only", async () => {
      const { engine, alice, bob, machine } = await setup()
      expect((await engine.listMachines(alice))[0]?.remote).toBeUndefined()
      const told = { enabled: true, maxConcurrent: 3, maxPromptBytes: 2048, sandbox: true, bypassPermissions: false }
      await engine.setMachineRemote(machine, told)
      expect((await engine.listMachines(alice))[0]?.remote).toEqual(told)
      expect((await engine.getMachineRemote(alice, "laptop"))?.remote).toEqual(told)
      await engine.setMachineRemote(machine, { ...told, sandbox: false, bypassPermissions: true })
      expect((await engine.listMachines(alice))[0]?.remote).toEqual({
        ...told,
        sandbox: false,
        bypassPermissions: true,
      })
      // A daemon from before bypassPermissions was told: not known, not false.
      await engine.setMachineRemote(machine, { enabled: true, maxConcurrent: 1, maxPromptBytes: 10, sandbox: true })
      expect((await engine.listMachines(alice))[0]?.remote).toEqual({
        enabled: true,
        maxConcurrent: 1,
        maxPromptBytes: 10,
        sandbox: true,
      })
      expect((await engine.listMachines(bob)).find((m) => m.remote)).toBeUndefined()
    })

    it("keeps why a daemon's sandboxes are off beside what it accepts, whatever its last error says", async () => {
      const { engine, alice, bob, machine, bobMachine } = await setup()
      const sandboxesOff = "/home/a/.overlord/daytona.json is not valid JSON: fix it, then restart the daemon"
      const told = { enabled: true, maxConcurrent: 2, maxPromptBytes: 100, sandbox: false, sandboxesOff }
      await engine.setMachineRemote(machine, told)
      // A later warning of the daemon is its last error now; the reason stays.
      await engine.setMachineState(machine, { online: true, lastError: "cannot read /x" })
      const remote = await engine.getMachineRemote(alice, "laptop")
      expect(remote?.remote).toEqual(told)
      expect(remote?.lastError).toBe("cannot read /x")
      expect((await engine.listMachines(alice))[0]?.remote).toEqual(told)
      // Settings fixed and the daemon restarted: no reason any more.
      const { sandboxesOff: _, ...fixed } = { ...told, sandbox: true }
      await engine.setMachineRemote(machine, fixed)
      expect((await engine.listMachines(alice))[0]?.remote).toEqual(fixed)
      expect((await engine.getMachineRemote(alice, "laptop"))?.remote?.sandboxesOff).toBeUndefined()
      // Another user's machine keeps its own.
      await engine.setMachineRemote(bobMachine, told)
      expect((await engine.listMachines(bob))[0]?.remote?.sandboxesOff).toBe(sandboxesOff)
      expect((await engine.listMachines(alice))[0]?.remote?.sandboxesOff).toBeUndefined()
    })

    it("stores a command queued, scoped to its user, and only on the user's own machine", async () => {
      const { engine, alice, bob } = await setup()
      const created = await engine.createCommand(alice, "laptop", newCommand("c1"))
      expect(created).toMatchObject({
        commandId: "c1",
        machineId: "laptop",
        kind: "claude",
        where: "local",
        status: "queued",
        exitCode: null,
        sessionId: null,
        createdAt: T0,
        expiresAt: HOUR_LATER,
        startedAt: null,
        endedAt: null,
      })
      expect(await engine.createCommand(alice, "bobs-laptop", newCommand("c2"))).toBeNull()
      expect(await engine.createCommand(bob, "laptop", newCommand("c3"))).toBeNull()
      expect(await engine.getCommand(bob, "c1")).toBeNull()
      expect(await engine.listCommands(bob, {})).toEqual([])
      expect(await engine.listCommandEvents(bob, "c1", -1, 100)).toBeNull()
      expect((await engine.listCommands(alice, {})).map((c) => c.commandId)).toEqual(["c1"])
    })

    it("hands the queued, unexpired commands to their machine, oldest first, as they were asked", async () => {
      const { engine, alice, machine, bobMachine } = await setup()
      await engine.createCommand(alice, "laptop", newCommand("a"))
      await engine.createCommand(alice, "laptop", newCommand("b", { expiresAt: "2026-12-01T10:00:30.000Z" }))
      await engine.createCommand(alice, "laptop", newCommand("c"))
      const at = "2026-12-01T10:01:00.000Z"
      expect((await engine.undeliveredCommands(machine, at)).map((c) => c.commandId)).toEqual(["a", "c"])
      expect((await engine.undeliveredCommands(machine, at))[0]).toEqual(newCommand("a").request)
      expect(await engine.undeliveredCommands(bobMachine, at)).toEqual([])
      await engine.recordCommandAck(machine, "a", at)
      expect((await engine.undeliveredCommands(machine, at)).map((c) => c.commandId)).toEqual(["c"])
    })

    it("expires queued commands past their time, once, and only queued ones", async () => {
      const { engine, alice, machine } = await setup()
      await engine.createCommand(alice, "laptop", newCommand("old", { expiresAt: "2026-12-01T10:00:30.000Z" }))
      await engine.createCommand(alice, "laptop", newCommand("acked", { expiresAt: "2026-12-01T10:00:30.000Z" }))
      await engine.recordCommandAck(machine, "acked", "2026-12-01T10:00:10.000Z")
      const expired = await engine.expireCommands("2026-12-01T10:01:00.000Z")
      expect(expired.map((e) => [e.userId, e.command.commandId, e.command.status])).toEqual([
        [alice.userId, "old", "expired"],
      ])
      expect(expired[0]?.command.error?.reason).toBe("expired")
      expect(await engine.expireCommands("2026-12-01T10:02:00.000Z")).toEqual([])
      expect(await engine.undeliveredCommands(machine, "2026-12-01T10:00:00.000Z")).toEqual([])
      expect((await engine.getCommand(alice, "acked"))?.status).toBe("delivered")
    })

    it("moves a command through ack, events and exit; events in order, repeats ignored, session and cost taken", async () => {
      const { engine, alice, machine, bobMachine } = await setup()
      await engine.createCommand(alice, "laptop", newCommand("c1"))
      expect((await engine.recordCommandAck(machine, "c1", "2026-12-01T10:00:01.000Z"))?.status).toBe("delivered")
      // A repeated ack (a redelivery the daemon answered as a duplicate) changes nothing.
      expect(await engine.recordCommandAck(machine, "c1", "2026-12-01T10:00:02.000Z")).toBeNull()
      // Another user's machine reporting on this id touches nothing.
      expect(await engine.recordCommandAck(bobMachine, "c1", T0)).toBeNull()
      expect(
        (
          await engine.recordCommandEvents(
            bobMachine,
            "c1",
            [{ eventSeq: 0, event: { kind: "stdout", text: "x" } }],
            T0,
          )
        ).stored,
      ).toBe(0)

      const first = await engine.recordCommandEvents(
        machine,
        "c1",
        [{ eventSeq: 0, event: cli({ type: "system", subtype: "init", session_id: "sess-1" }) }],
        "2026-12-01T10:00:03.000Z",
      )
      expect(first.stored).toBe(1)
      expect(first.command).toMatchObject({
        status: "running",
        sessionId: "sess-1",
        startedAt: "2026-12-01T10:00:01.000Z",
      })
      const second = await engine.recordCommandEvents(
        machine,
        "c1",
        [
          { eventSeq: 0, event: cli({ type: "system", subtype: "init", session_id: "sess-1" }) },
          { eventSeq: 1, event: { kind: "stderr", text: "warn\n" } },
          { eventSeq: 2, event: cli({ type: "result", session_id: "sess-1", total_cost_usd: 0.0125 }) },
        ],
        "2026-12-01T10:00:04.000Z",
      )
      expect(second.stored).toBe(2)
      expect(second.command?.costUsd).toBe(0.0125)
      const events = await engine.listCommandEvents(alice, "c1", -1, 100)
      expect(events?.map((e) => [e.eventSeq, e.event.kind])).toEqual([
        [0, "cli"],
        [1, "stderr"],
        [2, "cli"],
      ])
      expect(events?.[1]?.event).toEqual({ kind: "stderr", text: "warn\n" })
      expect((await engine.listCommandEvents(alice, "c1", 1, 100))?.map((e) => e.eventSeq)).toEqual([2])
      expect((await engine.listCommandEvents(alice, "c1", -1, 2))?.map((e) => e.eventSeq)).toEqual([0, 1])
      expect(await engine.countActiveCommands(alice, "laptop")).toBe(1)

      const exit = await engine.recordCommandExit(
        machine,
        { type: "command-exit", commandId: "c1", status: "completed", exitCode: 0, sessionId: "sess-1" },
        "2026-12-01T10:00:05.000Z",
      )
      expect(exit).toMatchObject({
        status: "completed",
        exitCode: 0,
        sessionId: "sess-1",
        endedAt: "2026-12-01T10:00:05.000Z",
      })
      expect(exit?.error).toBeUndefined()
      // The exit again (redelivered, answered from the daemon's journal): nothing changes.
      expect(
        await engine.recordCommandExit(
          machine,
          { type: "command-exit", commandId: "c1", status: "interrupted" },
          "2026-12-01T10:00:06.000Z",
        ),
      ).toBeNull()
      expect((await engine.getCommand(alice, "c1"))?.status).toBe("completed")
      expect(await engine.countActiveCommands(alice, "laptop")).toBe(0)
    })

    it("stores a report of many events whole, counting only the new ones, however its engine batches the rows", async () => {
      const { engine, alice, machine } = await setup()
      await engine.createCommand(alice, "laptop", newCommand("many"))
      const event = (eventSeq: number) => ({ eventSeq, event: { kind: "stdout" as const, text: `line ${eventSeq}\n` } })
      // 10 stored before; then 150 in one report (MySQL writes 64 rows per INSERT: three statements).
      const seqs = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
      expect((await engine.recordCommandEvents(machine, "many", seqs(0, 10).map(event), T0)).stored).toBe(10)
      const report = await engine.recordCommandEvents(machine, "many", seqs(0, 150).map(event), T0)
      expect(report.stored).toBe(140)
      const events = await engine.listCommandEvents(alice, "many", -1, 1000)
      expect(events?.map((e) => e.eventSeq)).toEqual(seqs(0, 150))
      expect(events?.[149]?.event).toEqual({ kind: "stdout", text: "line 149\n" })
    })

    it("keeps a refusal's reason and message, and a failure's message", async () => {
      const { engine, alice, machine } = await setup()
      await engine.createCommand(alice, "laptop", newCommand("r"))
      await engine.recordCommandAck(machine, "r", T0)
      const refused = await engine.recordCommandExit(
        machine,
        {
          type: "command-exit",
          commandId: "r",
          status: "refused",
          reason: "unknown-project",
          message: "not a project",
        },
        T0,
      )
      expect(refused?.error).toEqual({ reason: "unknown-project", message: "not a project" })
      await engine.createCommand(alice, "laptop", newCommand("f"))
      const failed = await engine.recordCommandExit(
        machine,
        { type: "command-exit", commandId: "f", status: "failed", exitCode: 3, message: "boom" },
        T0,
      )
      expect(failed).toMatchObject({ status: "failed", exitCode: 3, error: { reason: "failed", message: "boom" } })
    })

    it("lists the commands that produced or continued a session, newest first, and by machine", async () => {
      const { engine, alice, machine } = await setup()
      await engine.createCommand(alice, "laptop", newCommand("first"))
      await engine.recordCommandExit(
        machine,
        { type: "command-exit", commandId: "first", status: "completed", exitCode: 0, sessionId: "s-9" },
        T0,
      )
      await engine.createCommand(alice, "laptop", newCommand("resume", { resumeSessionId: "s-9" }))
      await engine.createCommand(alice, "laptop", newCommand("other"))
      expect((await engine.listCommands(alice, { sessionId: "s-9" })).map((c) => c.commandId)).toEqual([
        "resume",
        "first",
      ])
      expect((await engine.listCommands(alice, { machineUid: "laptop", limit: 2 })).map((c) => c.commandId)).toEqual([
        "other",
        "resume",
      ])
      expect(await engine.listCommands(alice, { machineUid: "nope" })).toEqual([])
    })

    it("cancels a queued command, and only a queued one; a daemon's report beats expired", async () => {
      const { engine, alice, machine } = await setup()
      await engine.createCommand(alice, "laptop", newCommand("q"))
      expect((await engine.cancelQueuedCommand(alice, "q", T0))?.status).toBe("cancelled")
      expect(await engine.cancelQueuedCommand(alice, "q", T0)).toBeNull()
      expect(await engine.undeliveredCommands(machine, T0)).toEqual([])
      // Delivered just before it expired, acknowledged after: it ran, so the daemon's word stands.
      await engine.createCommand(alice, "laptop", newCommand("late", { expiresAt: "2026-12-01T10:00:01.000Z" }))
      await engine.expireCommands("2026-12-01T10:00:02.000Z")
      const acked = await engine.recordCommandAck(machine, "late", "2026-12-01T10:00:03.000Z")
      expect(acked).toMatchObject({ status: "delivered", endedAt: null })
      expect(acked?.error).toBeUndefined()
    })
  })
}
