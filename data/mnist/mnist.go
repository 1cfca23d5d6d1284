// Package mnist embeds the project's 8,000 real MNIST digits (7,000 train,
// 1,000 test; see README.md here for provenance and licence) so that the
// demo and tests run on a fresh clone with no download.
package mnist

import (
	"embed"

	"github.com/gcompress/gcompress/data"
)

//go:embed *.gz
var files embed.FS

// Load returns split "train" (7,000 digits) or "test" (1,000 digits).
func Load(split string) (*data.Dataset, error) { return data.LoadFS(files, split) }
