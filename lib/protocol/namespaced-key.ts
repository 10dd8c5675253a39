// The key of a name within a namespace, as every table of names keeps it: the
// node manager's and the cluster directory's named actors, and the cluster's
// KV store (a KV namespace and a key). One form everywhere, so a name made on
// one side is found on the other.

/** `namespace` and `name` joined by a NUL: the key of a named actor, or of a KV entry in its namespace. */
export function namespacedKey(namespace: string, name: string): string {
  return `${namespace}\u0000${name}`;
}
