// Package runtime executes a graph.Model: it orders the nodes, asks a Backend
// for an Op per node (validating attributes once, when the Session is made),
// then runs the ops in order, feeding each the tensors its inputs name.
//
// Memory: intermediate tensors come from an Arena. The session knows the last
// node that reads each value; after that node runs, the value's buffer goes
// back to the arena and is handed to a later allocation of the same dtype and
// size. Buffers are reference counted by their data pointer, so an op that
// returns a view of an input (Reshape, Identity, Squeeze) keeps it alive.
//
// Profiling: with Options.Profile each node's wall time is recorded; Profile
// aggregates it per op type.
package runtime
