/** Commander's argument parser for a repeatable option (`--folder A --folder B`): each value added to the list. */
export function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}
