/**
 * A machine's name is unique among its user's live machines, by one rule on both sides: the CLI picks a
 * free name before it pairs or starts (`uniqueName` in `apps/overlord/src/login-command.ts`), and the
 * server enforces it on every name it stores (`uniqueMachineName` in `packages/store/src/machine-queries.ts`).
 * What they share is here: how long a name may be and how a clash is numbered. Where they differ is which
 * base the numbering starts from, said beside each: the CLI knows the host name it gave and first tries
 * `<host> (<OS user>)`; the server knows neither, only the names taken.
 */

/** The longest machine name kept, in code points (MySQL's `machines.name` is a VARCHAR(255)). */
export const MACHINE_NAME_MAX = 255

/** `name` cut to `max` code points (never half a surrogate pair). */
export const clampMachineName = (name: string, max = MACHINE_NAME_MAX): string => {
  if (name.length <= max) return name
  const points = Array.from(name)
  return points.length <= max ? name : points.slice(0, max).join("")
}

/**
 * The first of `<base>-2`, `<base>-3`, … that is not in `taken`, the base cut so that the name with its
 * suffix stays within `MACHINE_NAME_MAX`. Names compare exactly (a `Set`), as both engines' columns do
 * (SQLite's BINARY, MySQL's `utf8mb4_bin`): `Laptop` and `laptop` are two names.
 */
export function numberedMachineName(base: string, taken: ReadonlySet<string>): string {
  for (let n = 2; ; n++) {
    const suffix = `-${n}`
    const candidate = `${clampMachineName(base, MACHINE_NAME_MAX - suffix.length)}${suffix}`
    if (!taken.has(candidate)) return candidate
  }
}
