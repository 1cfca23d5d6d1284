package cpu

import (
	"sync"

	"github.com/gcompress/gcompress/tensor"
)

// constPack caches a constant operand in the form a kernel reads (packed
// panels, blocked weights), built on first use and rebuilt when the key
// (the kernel, and whatever else the form depends on) changes.
type constPack[K comparable, P any] struct {
	mu     sync.Mutex
	src    *tensor.Tensor
	key    K
	packed P
}

// get returns t's form for key, building it when needed, or P's zero
// value (nil) when t is not the constant the op was prepared with (a
// computed operand is packed inside each call instead). A constant is
// recognised by identity: mutating an initializer's data in place after
// the session was created is not seen.
func (c *constPack[K, P]) get(t, constant *tensor.Tensor, key K, build func() P) P {
	var none P
	if t == nil || t != constant {
		return none
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.src != t || c.key != key {
		c.packed, c.key, c.src = build(), key, t
	}
	return c.packed
}

// form is get for a kernel that needs t's form whether or not t is the
// constant: a computed operand's form is built for this call alone.
func (c *constPack[K, P]) form(t, constant *tensor.Tensor, key K, build func() P) P {
	if t == nil || t != constant {
		return build()
	}
	return c.get(t, constant, key, build)
}
