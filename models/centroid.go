package models

import (
	"fmt"

	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// NearestCentroid builds a linear classifier from class means, with no
// training: for each class c with mean image mu_c, the logit is
//
//	z_c(x) = mu_c . x - |mu_c|^2 / 2
//
// so argmax_c z_c(x) = argmin_c |x - mu_c|^2, the nearest class mean. The
// graph is one Gemm: input "image" float32 [batch, rows*cols], output
// "logits" float32 [batch, classes], weights [classes, rows*cols] used with
// transB=1. It is the demo's baseline model: real data, real weights, a few
// seconds to build.
func NearestCentroid(ds *data.Dataset, classes int) (*graph.Model, error) {
	if ds.Len() == 0 {
		return nil, fmt.Errorf("nearest-centroid: empty dataset")
	}
	per := ds.Rows * ds.Cols
	sums := make([]float64, classes*per)
	counts := make([]int, classes)
	px := ds.Images.F32()
	for i, c := range ds.Labels {
		if c < 0 || c >= classes {
			return nil, fmt.Errorf("nearest-centroid: label %d outside [0,%d)", c, classes)
		}
		counts[c]++
		row := sums[c*per : (c+1)*per]
		for j, p := range px[i*per : (i+1)*per] {
			row[j] += float64(p)
		}
	}
	w := make([]float32, classes*per)
	b := make([]float32, classes)
	for c := 0; c < classes; c++ {
		if counts[c] == 0 {
			return nil, fmt.Errorf("nearest-centroid: class %d has no samples", c)
		}
		var norm float64
		for j := 0; j < per; j++ {
			mu := sums[c*per+j] / float64(counts[c])
			w[c*per+j] = float32(mu)
			norm += mu * mu
		}
		b[c] = float32(-norm / 2)
	}
	g := graph.NewGraph("nearest_centroid")
	x := g.GetOrAddValue("image")
	x.DType = tensor.Float32
	x.Shape = []graph.Dim{{Size: -1, Param: "batch"}, {Size: int64(per)}}
	x.HasShape = true
	g.Inputs = []*graph.Value{x}
	wv := g.AddInitializer("centroids", tensor.FromSlice([]int{classes, per}, w))
	bv := g.AddInitializer("bias", tensor.FromSlice([]int{classes}, b))
	y := g.GetOrAddValue("logits")
	y.DType = tensor.Float32
	y.Shape = []graph.Dim{{Size: -1, Param: "batch"}, {Size: int64(classes)}}
	y.HasShape = true
	n := g.AddNode("Gemm", []*graph.Value{x, wv, bv}, []*graph.Value{y},
		map[string]*graph.Attr{"transB": graph.IntAttr(1)})
	n.Name = "classifier"
	g.Outputs = []*graph.Value{y}
	m := graph.NewModel(g, 13)
	m.DocString = "Nearest-class-mean MNIST classifier built by gcompress from its embedded training digits."
	return m, nil
}
