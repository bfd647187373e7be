/**
 * The Run panel: run Claude Code on one of the user's machines, in one of its projects, with a new
 * prompt or continuing a session, on the machine itself or in a Daytona sandbox, with the model and
 * permission mode chosen here. The command's output follows below the form (`CommandView`); a machine
 * that does not take commands says why Run is off; a refusal is shown with the server's message.
 */
import { type Api, Commands } from "@overlord/protocol"
import { type FormEvent, useEffect, useMemo, useState } from "react"
import { api } from "../api.ts"
import {
  ALLOW_REMOTE_HINT,
  CommandRequestError,
  commandsApi,
  RESTART_ALLOW_REMOTE_HINT,
  runRequest,
} from "../commands.ts"
import { errorText } from "../format.ts"
import { useAsync } from "../hooks.ts"
import { useMachines } from "../machines.ts"
import { CommandView, RefusalNotice } from "./CommandView.tsx"

const PERMISSION_MODES: readonly { value: Commands.PermissionMode; label: string }[] = [
  { value: "default", label: "Ask before tools (default)" },
  { value: "acceptEdits", label: "Accept edits" },
  { value: "plan", label: "Plan only" },
  { value: "bypassPermissions", label: "Bypass permissions" },
]

/** Aliases the CLI resolves itself; empty = the CLI's default. */
const MODELS = ["", "opus", "sonnet", "haiku"] as const

export type RunPanelProps = {
  readonly machineId?: string | undefined
  /** The project's directory on the machine (its `cwd`). */
  readonly projectDir?: string | undefined
  /** On a session: continue it. */
  readonly resumeSessionId?: string | undefined
  /** Where it runs at first ("this machine" unless given). */
  readonly where?: Api.CommandWhere | undefined
  /** Told which machine the panel is on (the first one, when none was named), e.g. to show its history. */
  readonly onMachineChange?: ((machineId: string) => void) | undefined
}

export const RunPanel = ({
  machineId,
  projectDir,
  resumeSessionId,
  where: initialWhere,
  onMachineChange,
}: RunPanelProps) => {
  const machines = useMachines()
  const projects = useAsync((s) => api.projects(s), [])
  const [machine, setMachine] = useState(machineId ?? "")
  const [project, setProject] = useState(projectDir ?? "")
  const [resume, setResume] = useState(resumeSessionId !== undefined)
  const [prompt, setPrompt] = useState("")
  const [where, setWhere] = useState<Api.CommandWhere>(initialWhere ?? "local")
  const [model, setModel] = useState("")
  const [permissionMode, setPermissionMode] = useState<Commands.PermissionMode>("default")
  const [submitting, setSubmitting] = useState(false)
  const [refusal, setRefusal] = useState<{ reason: Api.CommandErrorReason | null; message: string } | null>(null)
  const [started, setStarted] = useState<Api.CommandSummary | null>(null)

  // The first machine once the list arrives, when the route named none.
  useEffect(() => {
    if (machine === "" && machines.list && machines.list.length > 0) setMachine(machines.list[0]?.machineId ?? "")
  }, [machine, machines.list])

  useEffect(() => {
    if (machine !== "") onMachineChange?.(machine)
  }, [machine, onMachineChange])

  const selected = useMemo(() => machines.list?.find((m) => m.machineId === machine) ?? null, [machines.list, machine])
  const cwds = projects.state === "ok" ? projects.value.projects.flatMap((p) => (p.cwd ? [p.cwd] : [])) : []
  const accepts = selected?.acceptsCommands === true
  // What the machine's daemon said it refuses (absent from older daemons: then nothing is disabled).
  const sandboxOff = accepts && selected?.remote?.sandbox === false
  const bypassOff = accepts && selected?.remote?.bypassPermissions === false
  const sandboxProblem = Commands.sandboxesOffReason(selected?.remote, selected?.lastError)

  // A choice the newly selected machine refuses falls back to what it runs.
  useEffect(() => {
    if (sandboxOff && where === "sandbox") setWhere("local")
    if (bypassOff && permissionMode === "bypassPermissions") setPermissionMode("default")
  }, [sandboxOff, bypassOff, where, permissionMode])
  const canRun = accepts && project.trim() !== "" && prompt.trim() !== "" && !submitting

  const onSubmit = (e: FormEvent) => {
    e.preventDefault()
    if (!canRun) return
    setSubmitting(true)
    setRefusal(null)
    const request = runRequest({
      machineId: machine,
      projectDir: project,
      prompt,
      where,
      permissionMode,
      model,
      ...(resume && resumeSessionId ? { resumeSessionId } : {}),
    })
    commandsApi.create(request).then(
      (res) => {
        setStarted(res.command)
        setSubmitting(false)
      },
      (err: unknown) => {
        setRefusal(
          err instanceof CommandRequestError
            ? { reason: err.reason, message: err.message }
            : { reason: null, message: errorText(err) },
        )
        setSubmitting(false)
      },
    )
  }

  return (
    <section className="run-panel" data-testid="run-panel" aria-label="Run Claude Code">
      <form className="run-form" onSubmit={onSubmit}>
        <div className="run-fields">
          <label className="run-field">
            <span>Machine</span>
            <select
              data-testid="run-machine"
              value={machine}
              onChange={(e) => setMachine(e.target.value)}
              disabled={!machines.list}
            >
              {!machines.list && <option value="">loading…</option>}
              {machines.list?.map((m) => (
                <option key={m.machineId} value={m.machineId}>
                  {m.name}
                  {m.online ? "" : " (offline)"}
                  {m.acceptsCommands ? "" : " (no commands)"}
                </option>
              ))}
            </select>
          </label>
          <label className="run-field run-field-wide">
            <span>Project</span>
            <input
              data-testid="run-project"
              list="run-project-list"
              placeholder="/path/to/project"
              value={project}
              onChange={(e) => setProject(e.target.value)}
              autoCapitalize="off"
              autoCorrect="off"
              spellCheck={false}
            />
            <datalist id="run-project-list">
              {cwds.map((c) => (
                <option key={c} value={c} />
              ))}
            </datalist>
          </label>
          <fieldset className="run-field run-where">
            <legend>Where</legend>
            <label>
              <input
                type="radio"
                name="run-where"
                data-testid="run-where-local"
                checked={where === "local"}
                onChange={() => setWhere("local")}
              />{" "}
              this machine
            </label>
            <label>
              <input
                type="radio"
                name="run-where"
                data-testid="run-where-sandbox"
                disabled={sandboxOff}
                checked={where === "sandbox"}
                onChange={() => setWhere("sandbox")}
              />{" "}
              Daytona sandbox
            </label>
          </fieldset>
          <label className="run-field">
            <span>Model</span>
            <select data-testid="run-model" value={model} onChange={(e) => setModel(e.target.value)}>
              {MODELS.map((m) => (
                <option key={m} value={m}>
                  {m || "CLI default"}
                </option>
              ))}
            </select>
          </label>
          <label className="run-field">
            <span>Permissions</span>
            <select
              data-testid="run-permission-mode"
              disabled={where === "sandbox"}
              title={
                where === "sandbox"
                  ? "In the sandbox every tool runs without asking: it is isolated, and its changes come back as a patch"
                  : undefined
              }
              value={permissionMode}
              onChange={(e) => setPermissionMode(e.target.value as Commands.PermissionMode)}
            >
              {PERMISSION_MODES.map((m) => (
                <option
                  key={m.value}
                  value={m.value}
                  disabled={bypassOff && m.value === "bypassPermissions"}
                  data-testid={`run-permission-${m.value}`}
                >
                  {m.label}
                </option>
              ))}
            </select>
          </label>
        </div>
        {resumeSessionId && (
          <label className="run-resume">
            <input
              type="checkbox"
              data-testid="run-resume"
              checked={resume}
              onChange={(e) => setResume(e.target.checked)}
            />{" "}
            Continue this session <code>{resumeSessionId.slice(0, 8)}</code>
          </label>
        )}
        <textarea
          className="run-prompt"
          data-testid="run-prompt"
          aria-label="Prompt"
          placeholder={resume ? "What next?" : "What should Claude do?"}
          rows={4}
          value={prompt}
          onChange={(e) => setPrompt(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) onSubmit(e)
          }}
        />
        {selected && !accepts && (
          <div className="run-disabled" data-testid="run-disabled-reason" role="note">
            <strong>{selected.name}</strong> does not accept commands. {selected.online ? "Restart" : "Start"} its
            daemon with <code>{selected.online ? RESTART_ALLOW_REMOTE_HINT : ALLOW_REMOTE_HINT}</code> (or set{" "}
            <code>"enabled": true</code> in its <code>~/.overlord/remote/config.json</code>, then{" "}
            {selected.online ? "restart" : "start"} it) to run from here.
          </div>
        )}
        {selected && sandboxOff && (
          <div className="muted small" data-testid="run-sandbox-off" role="note">
            No Daytona sandbox on {selected.name}:{" "}
            {/* The daemon's sentence says what to do ("…: fix it, then restart the daemon"). */}
            {sandboxProblem ? (
              <>{sandboxProblem}.</>
            ) : (
              <>
                put <code>"apiKey"</code> and <code>"anthropicApiKey"</code> in its{" "}
                <code>~/.overlord/daytona.json</code>, then restart its daemon.
              </>
            )}
          </div>
        )}
        {selected && bypassOff && (
          <div className="muted small" data-testid="run-bypass-off" role="note">
            Bypass permissions is off on {selected.name}: set <code>"allowBypassPermissions": true</code> in its{" "}
            <code>~/.overlord/remote/config.json</code>, then restart its daemon.
          </div>
        )}
        {selected && accepts && !selected.online && (
          <div className="muted small">{selected.name} is offline: the command waits for it for up to an hour.</div>
        )}
        {machines.list && machines.list.length === 0 && (
          <div className="muted">
            No machine has synced yet. Run <code>{ALLOW_REMOTE_HINT}</code> on a laptop.
          </div>
        )}
        <div className="run-actions">
          <button type="submit" className="button button-run" data-testid="run-submit" disabled={!canRun}>
            {submitting ? "Starting…" : resume ? "Continue" : "Run"}
          </button>
        </div>
        {refusal && <RefusalNotice reason={refusal.reason} message={refusal.message} />}
      </form>
      {started && <CommandView key={started.commandId} commandId={started.commandId} initial={started} />}
    </section>
  )
}
