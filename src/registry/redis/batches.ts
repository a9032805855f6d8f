/**
 * Splits the indices `0 … count-1` into groups that one multi-key command may carry: same hash
 * slot (`slotOf`), in their original order, at most `chunk` per group. In standalone mode every
 * slot is 0 and this just chunks.
 */
export function groupBySlot(count: number, slotOf: (index: number) => number, chunk: number): number[][] {
  const bySlot = new Map<number, number[]>();
  const groups: number[][] = [];
  for (let i = 0; i < count; i++) {
    const slot = slotOf(i);
    let group = bySlot.get(slot);
    if (group === undefined || group.length === chunk) {
      group = [];
      bySlot.set(slot, group);
      groups.push(group);
    }
    group.push(i);
  }
  return groups;
}

/** `*`, `?`, `[`, `]` and `\` escaped, so `text` matches itself in a `SCAN MATCH` pattern. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
