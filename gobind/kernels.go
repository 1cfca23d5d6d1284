package gobind

// Kernel is one extern "C" entry point of kernels/*.cu.
type Kernel struct {
	// Name is the symbol; Module the source file (kernels/<Module>.cu,
	// compiled to gobind/fatbin/<Module>.fatbin, or for WgmmaModule to
	// sm_90a PTX, gobind/fatbin/WgmmaPTXFile).
	Name, Module string
	// Params is the number of parameters (8 bytes each, or a tensor map).
	Params int
	// DynamicShared is the dynamic shared memory a launch uses (bytes); the
	// loader raises the kernel's limit to it when above 48 KiB.
	DynamicShared int
}

// Kernels lists every kernel the launchers use: the GEMMs once per tile
// shape, then the fixed ones. A test checks it against the sources (every
// name defined there, every kernel there listed here).
var Kernels = append(gemmKernels(), []Kernel{
	{"gc_sp24_probe_s8", "gemm_sp24", 5, 0},
	{"gc_sp24_probe_f16", "gemm_sp24", 5, 0},
	{"gc_quantize_f32_s8", "elementwise", 7, 0},
	{"gc_dequantize_s8_f32", "elementwise", 7, 0},
	{"gc_softmax_f32", "elementwise", 4, 0},
	{"gc_add_f32", "elementwise", 4, 0},
	{"gc_relu_f32", "elementwise", 3, 0},
	{"gc_cast_f32_f16", "elementwise", 3, 0},
	{"gc_cast_f16_f32", "elementwise", 3, 0},
	{"gc_cast_f32_bf16", "elementwise", 3, 0},
	{"gc_cast_bf16_f32", "elementwise", 3, 0},
	{"gc_im2col_s8", "elementwise", 18, 0},
	{"gc_gemm_s8_s32_naive", "elementwise", 10, 0},
	{"gc_gemm_f16_f32_naive", "elementwise", 10, 0},
	{"gc_abi_probe", "elementwise", 5, 0},
	{"gc_wgmma_probe_s8", WgmmaModule, 4, WgmmaProbeShared},
	{"gc_wgmma_probe_f16", WgmmaModule, 4, WgmmaProbeShared},
	{"gc_wgmma_sp_probe_s8", WgmmaModule, 6, WgmmaSparseProbeShared},
	{"gc_wgmma_sp_probe_f16", WgmmaModule, 6, WgmmaSparseProbeShared},
	{"gc_tma_probe", WgmmaModule, 7, TmaProbeShared},
	{"gc_cluster_probe", WgmmaModule, 6, ClusterProbeShared},
}...)

// gemmBase is a GEMM entry point before its tile suffix.
type gemmBase struct {
	name, module string
	in           Elem
}

var (
	denseBases = []gemmBase{
		{"gc_gemm_s8_s32", "gemm_s8", S8}, {"gc_gemm_s8_f32", "gemm_s8", S8}, {"gc_gemm_s8_s8", "gemm_s8", S8},
		{"gc_gemm_f16_f32", "gemm_f16", F16}, {"gc_gemm_f16_f16", "gemm_f16", F16},
		{"gc_gemm_bf16_f32", "gemm_f16", BF16}, {"gc_gemm_bf16_bf16", "gemm_f16", BF16},
	}
	sparseBases = []gemmBase{
		{"gc_spgemm_s8_s32", "gemm_sp24", S8}, {"gc_spgemm_s8_f32", "gemm_sp24", S8}, {"gc_spgemm_s8_s8", "gemm_sp24", S8},
		{"gc_spgemm_f16_f32", "gemm_sp24", F16}, {"gc_spgemm_f16_f16", "gemm_sp24", F16},
		{"gc_spgemm_bf16_f32", "gemm_sp24", BF16}, {"gc_spgemm_bf16_bf16", "gemm_sp24", BF16},
	}
)

// TileKernels lists the entry points of the dense (sparse) GEMMs of input
// type in in tile shape tile, one per output type.
func TileKernels(sparse bool, in Elem, tile string) []string {
	bases := denseBases
	if sparse {
		bases = sparseBases
	}
	var out []string
	for _, b := range bases {
		if b.in == in {
			out = append(out, b.name+"_"+tile)
		}
	}
	return out
}

// gemmKernels is every GEMM base in every tile shape of its kind.
func gemmKernels() []Kernel {
	var ks []Kernel
	for _, b := range denseBases {
		for _, t := range DenseTiles {
			mod := b.module
			if t.Wgmma {
				mod = WgmmaModule
			}
			ks = append(ks, Kernel{b.name + "_" + t.Name, mod, denseParams + t.maps(), t.DenseShared()})
		}
	}
	for _, b := range sparseBases {
		for _, t := range SparseTiles {
			mod := b.module
			if t.Wgmma {
				mod = WgmmaModule
			}
			ks = append(ks, Kernel{b.name + "_" + t.Name, mod, sparseParams + t.maps(), t.SparseShared(b.in)})
		}
	}
	return ks
}

// WgmmaModule holds the wgmma GEMMs: PTX for sm_90a, which the driver
// compiles when it is loaded on an sm_90 GPU and which no other GPU can run.
const WgmmaModule = "gemm_wgmma"

const (
	denseParams  = 14
	sparseParams = 18
)

// Modules lists the fatbin modules, in load order.
func Modules() []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range Kernels {
		if !seen[k.Module] {
			seen[k.Module] = true
			out = append(out, k.Module)
		}
	}
	return out
}

// kernelIndex holds each entry of Kernels by name (every launch looks its
// kernel up).
var kernelIndex = func() map[string]Kernel {
	m := make(map[string]Kernel, len(Kernels))
	for _, k := range Kernels {
		m[k.Name] = k
	}
	return m
}()

// lookup returns the table entry of a kernel.
func lookup(name string) (Kernel, bool) {
	k, ok := kernelIndex[name]
	return k, ok
}
