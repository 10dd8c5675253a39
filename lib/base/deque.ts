// A FIFO queue with O(1) pops from the front: the node manager's task queues
// (a million tasks may wait) and a worker's queue of calls.

/** A FIFO that pops from the front in O(1) without shifting (queues can hold a million tasks). */
export class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  push(x: T): void {
    this.items.push(x);
  }

  unshift(x: T): void {
    if (this.head > 0) this.items[--this.head] = x;
    else this.items.unshift(x);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  remove(pred: (x: T) => boolean): T | undefined {
    for (let i = this.head; i < this.items.length; i++) {
      const x = this.items[i];
      if (x !== undefined && pred(x)) {
        this.items.splice(i, 1);
        return x;
      }
    }
    return undefined;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}
