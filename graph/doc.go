// Package graph owns gcompress's intermediate representation of a model: a
// Model (opsets, metadata) holding a Graph of Nodes connected by Values.
//
// A Value is one tensor edge: produced by at most one Node (or by the caller
// as a graph input, or constant as an initializer) and read by any number of
// Nodes. Node.Inputs and Node.Outputs hold *Value pointers; a nil entry is an
// omitted optional input or output (the empty name in ONNX). The graph keeps
// each Value's Producer and Consumers in step with the nodes as long as edits
// go through the methods of Graph (AddNode, SetInput, ReplaceAllUses,
// InsertAfter, RemoveNode, ...).
//
// Whatever the IR does not model (ONNX functions, training info, doc strings,
// fields newer than our onnx.proto) is carried through as opaque protobuf
// bytes so that an import/export round trip keeps it.
//
// Shape inference (InferShapes) fills Value.DType and Value.Shape for the ops
// gcompress supports, using constant inputs where an output shape depends on
// data (Reshape, Slice, ...).
package graph
