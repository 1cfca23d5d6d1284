// Package encode implements stages 2 and 3 of Deep Compression (Han,
// Mao and Dally, 2016) and the .gcz archive that stores the result.
//
// Stage 2, weight sharing: the non-zero weights of each layer are
// clustered by one-dimensional k-means with linear initialisation
// (KMeans) into 2^b shared values, and the centroids are fine-tuned with
// the training engine (FinetuneCentroids): each centroid moves by the sum
// of the gradients of the weights in its cluster while pruned weights stay
// zero. Stage 3: the cluster indices and the gaps between the positions
// of non-zero weights (relative indexing) are Huffman coded (canonical
// codes limited to 15 bits, HuffmanLengths / Code).
//
// Encode writes a model as a .gcz archive and Decode turns one back into
// an ONNX model; the Size accounting counts every byte of the archive:
// codebooks, coded indices and gaps, Huffman tables, per-tensor headers,
// section framing and checksums, and (separately) the model's graph.
//
// # The .gcz format (version 1)
//
// All integers are little-endian; "uvarint" is Go's encoding/binary
// unsigned varint (at most 10 bytes).
//
//	file    = header section* trailer
//	header  = "GCZ" 0x01 | version u8 (1) | flags u8 (0) | reserved u16 (0)   8 bytes
//	section = kind u8 | length uvarint | payload (length bytes) | crc u32
//	trailer = "GCZ" 0xFF | sections u32 | file length u64 | crc u32          20 bytes
//
// Each section's crc is the CRC-32C (Castagnoli) of its kind, length and
// payload bytes; the trailer's crc is the CRC-32C of every byte before it,
// and "file length" counts the whole file including the trailer. A
// truncated, extended or modified file therefore fails to decode with a
// checksum or length error naming the section.
//
// Section kinds:
//
//	1 graph   the ONNX ModelProto of the model, compressed with DEFLATE
//	          (RFC 1951, compress/flate), in which every encoded
//	          initializer is replaced by a graph input of the same name,
//	          dtype and shape (appended after the real inputs). Exactly
//	          one, first.
//	2 tensor  one encoded initializer (below).
//
// A tensor payload:
//
//	name       uvarint length, UTF-8 bytes
//	position   uvarint: the initializer's index in the model's list
//	dtype      u8: 1 (float32, the only one encoded)
//	rank       uvarint (0..8), then rank dims as uvarint; the products
//	           of all the tensors' dims add up to at most 2^28
//	encoding   u8:
//	  0 raw32   n float32 values
//	  1 raw16   n float16 values (IEEE binary16, round to nearest even)
//	  2 shared  all n values are shared values:           codebook, indices
//	  3 sparse  the non-zero values are shared values:     codebook, gaps, indices
//
//	codebook   precision u8 (16 or 32) | k uvarint (1..65536) |
//	           k values (float16 or float32)
//	indices    count uvarint (n for shared, the non-zeros for sparse) |
//	           k code lengths, 4 bits each, low nibble first (ceil(k/2) bytes) |
//	           stream length uvarint (bytes) | stream: one canonical
//	           Huffman code (MSB first) per value, the index of its
//	           codebook entry, zero-padded to a byte
//	gaps       (sparse only) width b u8 (1..8) | count uvarint (gap symbols) |
//	           2^b code lengths, 4 bits each | stream length uvarint | stream
//
// Sparse positions use relative indexing over the row-major flattened
// tensor: starting before position 0, a gap symbol g < 2^b - 1 skips g
// zeros and places the next non-zero; the symbol 2^b - 1 skips 2^b - 1
// zeros without placing one (the paper's "filler zero", which here costs
// no codebook index). Fillers follow the last non-zero until fewer than
// 2^b - 1 elements are left, so the symbols cover the tensor (which bounds
// what a file of a given size can make the decoder allocate). The decoder
// checks that the gaps stay inside the tensor and cover it, and that the
// indices are exactly one per placed non-zero, each below k.
package encode
