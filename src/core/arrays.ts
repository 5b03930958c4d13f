/**
 * Append every item of `items` to `target`. `target.push(...items)` passes each item as a call argument
 * and throws RangeError (call stack) beyond ~100k items — a long log has hundreds of thousands.
 */
export function appendAll<T>(target: T[], items: readonly T[]): void {
  for (let i = 0; i < items.length; i++) target.push(items[i]);
}
