"""Reading traced graphs in tests."""


def unguarded_ops(graph, op_type):
    """The ops of `op_type` in `graph` that no `Assert` op precedes.

    In a graph an assertion runs only where something depends on it; an
    index op that does not depend on the check guarding it may run first and
    fail with an index error instead of the check's message."""

    def guarded(op, seen):
        for parent in [t.op for t in op.inputs] + list(op.control_inputs):
            if parent.name in seen:
                continue
            seen.add(parent.name)
            if parent.type == "Assert" or guarded(parent, seen):
                return True
        return False

    return [op.name for op in graph.get_operations() if op.type == op_type and not guarded(op, set())]
