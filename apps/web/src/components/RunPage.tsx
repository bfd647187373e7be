/** `#/run`: the Run panel with the chosen machine's command history; `#/commands/:id`: one command. */
import { useState } from "react"
import { commandHref } from "../router.ts"
import { CommandHistory } from "./CommandHistory.tsx"
import { CommandView } from "./CommandView.tsx"
import { RunPanel } from "./RunPanel.tsx"

export const RunPage = ({ params }: { params: URLSearchParams }) => {
  const machine = params.get("machine") ?? undefined
  const project = params.get("project") ?? undefined
  const resume = params.get("resume") ?? undefined
  const where = params.get("where") === "sandbox" ? "sandbox" : undefined
  const [shown, setShown] = useState<string | undefined>(machine)
  return (
    <div className="page run-page">
      <h1>{resume ? "Continue a session" : "Run Claude Code"}</h1>
      <RunPanel
        key={`${machine ?? ""}|${project ?? ""}|${resume ?? ""}|${where ?? ""}`}
        machineId={machine}
        projectDir={project}
        resumeSessionId={resume}
        where={where}
        onMachineChange={setShown}
      />
      <CommandHistory machineId={shown} title={shown ? "This machine's commands" : "Recent commands"} />
    </div>
  )
}

export const CommandPage = ({ commandId }: { commandId: string }) => (
  <div className="page run-page">
    <h1>
      Command <a href={commandHref(commandId)}>{commandId.slice(0, 12)}</a>
    </h1>
    <CommandView commandId={commandId} />
  </div>
)
