// The trivial function the worker-thread pools run (same work as sunray's small_value task).
export default function smallValue() {
  return 'ok';
}
