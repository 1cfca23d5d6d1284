package cuda

import (
	"errors"
	"fmt"
)

// Sentinel errors that a *Error matches with errors.Is, by CUresult code.
var (
	// ErrNoDevice: the driver reports no CUDA device, failed to initialise
	// (no GPU or kernel driver), or the ordinal asked for does not exist.
	ErrNoDevice = errors.New("no CUDA device")
	// ErrOutOfMemory: a device allocation failed.
	ErrOutOfMemory = errors.New("out of device memory")
	// ErrNoKernelImage: the fatbin has no code this GPU can run (neither its
	// SASS nor PTX the driver can compile).
	ErrNoKernelImage = errors.New("no kernel image for this GPU")
	// ErrLaunch: a kernel could not be launched (resources, configuration)
	// or faulted while running (illegal address, trap); after a fault the
	// context is unusable.
	ErrLaunch = errors.New("kernel launch failed")
	// ErrNotFound: a named kernel is not in the loaded module.
	ErrNotFound = errors.New("kernel not found")
)

// CUresult codes (cuda.h) that the sentinels above group.
const (
	codeOutOfMemory           = 2
	codeNoDevice              = 100
	codeInvalidDevice         = 101
	codeNoBinaryForGPU        = 209
	codeInvalidPTX            = 218
	codeUnsupportedPTXVersion = 222
	codeNotFound              = 500
	codeIllegalAddress        = 700
	codeLaunchOutOfResources  = 701
	codeLaunchTimeout         = 702
	codeIllegalInstruction    = 715
	codeMisalignedAddress     = 716
	codeInvalidPC             = 718
	codeLaunchFailed          = 719
)

// opInit is the Op of the error of a failed driver initialisation.
const opInit = "cuInit"

// Error is a failed CUDA driver call: what was being done, the CUresult code
// and its name.
type Error struct {
	Op   string
	Code int
	Name string
}

func (e *Error) Error() string {
	return fmt.Sprintf("cuda: %s: %s (CUresult %d)", e.Op, e.Name, e.Code)
}

// Is lets errors.Is match the sentinel errors by code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNoDevice:
		return e.Code == codeNoDevice || e.Code == codeInvalidDevice || e.Op == opInit
	case ErrOutOfMemory:
		return e.Code == codeOutOfMemory
	case ErrNoKernelImage:
		return e.Code == codeNoBinaryForGPU || e.Code == codeInvalidPTX || e.Code == codeUnsupportedPTXVersion
	case ErrLaunch:
		switch e.Code {
		case codeIllegalAddress, codeLaunchOutOfResources, codeLaunchTimeout, codeIllegalInstruction,
			codeMisalignedAddress, codeInvalidPC, codeLaunchFailed:
			return true
		}
	case ErrNotFound:
		return e.Code == codeNotFound
	}
	return false
}
