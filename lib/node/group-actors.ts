// The actors of each placement group on this node, so that a group's removal ends its own
// actors without a walk over every actor record the node keeps (dead ones stay listed).

/** Actors (or anything) listed by the id of the placement group they were placed in. */
export class GroupActors<A> {
  private readonly byGroup = new Map<string, A[]>();

  /** Lists `a` under `group`. */
  add(group: string, a: A): void {
    const list = this.byGroup.get(group);
    if (list) list.push(a);
    else this.byGroup.set(group, [a]);
  }

  /** The actors listed under `group`, which is forgotten: it was removed for good. */
  take(group: string): readonly A[] {
    const list = this.byGroup.get(group) ?? [];
    this.byGroup.delete(group);
    return list;
  }
}
