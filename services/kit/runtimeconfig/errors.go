package runtimeconfig

import "errors"

// ErrInvalid is wrapped by every validation error Load returns.
var ErrInvalid = errors.New("invalid configuration")

// ErrUnknownService is returned by Load for a service name with no defaults.
var ErrUnknownService = errors.New("unknown service")
