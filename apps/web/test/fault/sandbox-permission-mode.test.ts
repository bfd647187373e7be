/**
 * Fault: the Run panel sent its Permissions choice (`default` unless changed) with a Daytona sandbox
 * run. Claude Code runs there with `-p` and nobody can answer a prompt, so in `default` mode every edit
 * was denied and the run came back with nothing to pull back. A sandbox run now leaves the mode to the
 * sandbox (every tool allowed: it is isolated, and its changes return as a patch), and the panel's
 * Permissions select is disabled while "Daytona sandbox" is chosen; a run on the machine is unchanged.
 */
import { describe, expect, it } from "vitest"
import { type RunForm, runRequest } from "../../src/commands.ts"

const form: RunForm = {
  machineId: "m-1",
  projectDir: " /home/dev/proj ",
  prompt: "Write a file.",
  where: "sandbox",
  permissionMode: "default",
  model: "",
}

describe("the Run panel's request", () => {
  it("leaves the permission mode to the sandbox for a sandbox run", () => {
    const request = runRequest(form)
    expect(request).toEqual({
      machineId: "m-1",
      projectDir: "/home/dev/proj",
      prompt: "Write a file.",
      where: "sandbox",
    })
    expect("permissionMode" in request).toBe(false)
    expect(runRequest({ ...form, permissionMode: "acceptEdits" }).permissionMode).toBeUndefined()
  })

  it("sends the chosen mode, model and resume for a run on the machine", () => {
    expect(runRequest({ ...form, where: "local", model: "sonnet", resumeSessionId: "s-1" })).toEqual({
      machineId: "m-1",
      projectDir: "/home/dev/proj",
      prompt: "Write a file.",
      where: "local",
      permissionMode: "default",
      model: "sonnet",
      resumeSessionId: "s-1",
    })
  })
})
