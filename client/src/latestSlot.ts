// A one-element mailbox between the WebSocket handler and the render loop. The render loop
// only ever paints the newest update: a value that arrives before the previous one was taken
// replaces it, and the replacement is counted so the viewer can report what it never showed.

export class LatestSlot<T> {
  #value: T | undefined;
  #hasValue = false;
  #replaced = 0;

  /** Stores `value`, replacing (and counting) one that was not taken yet. */
  put(value: T): void {
    if (this.#hasValue) this.#replaced += 1;
    this.#value = value;
    this.#hasValue = true;
  }

  /** Removes and returns the stored value, or undefined when nothing new arrived. */
  take(): T | undefined {
    if (!this.#hasValue) return undefined;
    const value = this.#value;
    this.#value = undefined;
    this.#hasValue = false;
    return value;
  }

  get pending(): boolean {
    return this.#hasValue;
  }

  /** Values replaced before the render loop took them, since construction. */
  get replaced(): number {
    return this.#replaced;
  }
}
