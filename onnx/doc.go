// Package onnx converts between ONNX files and gcompress's graph IR.
//
// Import (Load, Decode) accepts models of any default-domain opset from 1 to
// 21, validates what it reads (sizes against bytes present, edges that
// reference defined values, attribute kinds), and upgrades operators whose
// signature changed before opset 13 to their opset-13 form (attributes that
// became inputs, legacy broadcasting, 2-D coerced Softmax, Upsample, ...), so
// the rest of gcompress sees one form per operator. The model's opset becomes
// max(13, original).
//
// Export (Encode, Save) writes the IR back: opset >= 13, initializers in
// raw_data (or an external data file for models past the 2 GiB protobuf
// limit), and every field the IR does not model restored from the opaque
// bytes kept at import, so unknown fields survive a round trip.
package onnx
