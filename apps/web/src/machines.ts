/** Machine names for display: rows show the name a machine registered with, never its uuid. */
import type { Api } from "@overlord/protocol"
import { useMemo } from "react"
import { api } from "./api.ts"
import { shortId } from "./format.ts"
import { useAsync, useHealth } from "./hooks.ts"

export type MachineNames = ReadonlyMap<string, string>

/** `machineId -> name` from the machines list and live health updates; an id passes through if unknown. */
export const machineNamesOf = (...lists: (readonly Api.Machine[] | null | undefined)[]): MachineNames => {
  const names = new Map<string, string>()
  for (const list of lists) for (const m of list ?? []) if (m.name) names.set(m.machineId, m.name)
  return names
}

/**
 * A machine's name, else its short id: a session shared by another user comes from a machine whose name
 * this reader cannot see, and its 36-character id crowded the session header (full id in a title).
 */
export const machineLabel = (names: MachineNames, machineId: string): string =>
  names.get(machineId) ?? shortId(machineId)

/** The machines list (REST, once per mount) merged with the live health feed, which wins. */
export const useMachines = (): { list: readonly Api.Machine[] | null; error: string | null; names: MachineNames } => {
  const health = useHealth()
  const res = useAsync((s) => api.machines(s), [])
  const rest = res.state === "ok" ? res.value.machines : null
  const list = health?.machines ?? rest
  const names = useMemo(() => machineNamesOf(rest, health?.machines), [rest, health?.machines])
  return { list, error: res.state === "error" ? res.error : null, names }
}

export const useMachineNames = (): MachineNames => useMachines().names
