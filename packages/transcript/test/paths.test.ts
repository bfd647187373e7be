import { describe, expect, it } from "vitest"
import {
  classifyFileKey,
  decodeProjectDirHint,
  encodeProjectDir,
  isSessionFileKey,
  projectDirMatches,
} from "../src/index.ts"

const SID = "019382a4-f2b1-443f-85c0-888e5d510e19"

describe("classifyFileKey", () => {
  it.each([
    [
      `-Users-a-app/${SID}.jsonl`,
      { projectDir: "-Users-a-app", sessionId: SID, agentId: null, workflowRunId: null, layout: "session" },
    ],
    [
      `D--ClaudeWorkspace/${SID}/subagents/agent-a6c06884a23d0f4d3.jsonl`,
      {
        projectDir: "D--ClaudeWorkspace",
        sessionId: SID,
        agentId: "a6c06884a23d0f4d3",
        workflowRunId: null,
        layout: "subagent",
      },
    ],
    [
      `p/${SID}/subagents/agent-acompact-fffbd0.jsonl`,
      { projectDir: "p", sessionId: SID, agentId: "acompact-fffbd0", workflowRunId: null, layout: "subagent" },
    ],
    [
      `p/${SID}/subagents/workflows/wf_sp01/agent-a1b2c3d.jsonl`,
      { projectDir: "p", sessionId: SID, agentId: "a1b2c3d", workflowRunId: "wf_sp01", layout: "subagent" },
    ],
    [
      "-Users-user-project/agent-a434715.jsonl",
      {
        projectDir: "-Users-user-project",
        sessionId: null,
        agentId: "a434715",
        workflowRunId: null,
        layout: "flat-agent",
      },
    ],
  ] as const)("%s", (key, expected) => {
    expect(classifyFileKey(key)).toEqual(expected)
    expect(isSessionFileKey(key)).toBe(true)
  })

  it.each([
    `p/${SID}/tool-results/toolu_1.txt`,
    `p/${SID}/tool-results/x.jsonl`,
    `p/${SID}/subagents/agent-a1.meta.json`,
    `p/${SID}/subagents/workflows/wf_1/journal.jsonl`,
    `p/${SID}/remote-agents/remote-agent-t.meta.json`,
    "history.jsonl",
    "p/.jsonl",
    "p//x.jsonl",
    "p/a/b/c/d/e/f.jsonl",
    "",
  ])("ignores %j", (key) => {
    expect(classifyFileKey(key).layout).toBe("other")
    expect(isSessionFileKey(key)).toBe(false)
  })

  it("still reports the session directory of side files", () => {
    expect(classifyFileKey(`p/${SID}/tool-results/t.txt`)).toMatchObject({
      projectDir: "p",
      sessionId: SID,
      layout: "other",
    })
  })
})

describe("project directory names", () => {
  it.each([
    ["/Users/chip/dev/ai-music", "-Users-chip-dev-ai-music"],
    ["/Users/tachikawa_eiji/EijiCode/UTAGE3.0/utage3", "-Users-tachikawa-eiji-EijiCode-UTAGE3-0-utage3"],
    ["C:\\Users\\67240", "C--Users-67240"],
    ["D:\\ClaudeWorkspace", "D--ClaudeWorkspace"],
    ["E:\\道友的宝贝\\道友的宝贝", "E-------------"],
  ])("encodes %s", (cwd, dir) => {
    expect(encodeProjectDir(cwd)).toBe(dir)
    expect(projectDirMatches(dir, cwd)).toBe(true)
  })

  it("caps long names at 200 characters plus a hash suffix, matched by prefix", () => {
    const cwd = `/very/${"deep/".repeat(60)}end`
    const dir = encodeProjectDir(cwd)
    expect(dir.slice(0, 200)).toBe(cwd.replace(/[^a-zA-Z0-9]/g, "-").slice(0, 200))
    expect(dir).toMatch(/^.{200}-[0-9a-z]+$/)
    // The CLI's Bun.hash suffix differs from ours: any suffix after the 200-char prefix matches.
    expect(projectDirMatches(`${dir.slice(0, 200)}-zzzz`, cwd)).toBe(true)
    expect(projectDirMatches(`${dir.slice(0, 199)}x-zzzz`, cwd)).toBe(false)
  })

  it("decodes a lossy display hint", () => {
    expect(decodeProjectDirHint("-Users-chip-dev-ai-music")).toBe("/Users/chip/dev/ai/music")
    expect(decodeProjectDirHint("C--Users-67240")).toBe("C:\\Users\\67240")
  })
})
