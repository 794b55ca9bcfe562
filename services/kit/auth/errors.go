package auth

import "errors"

var (
	// ErrNoToken means the call carried no bearer token.
	ErrNoToken = errors.New("no bearer token")
	// ErrInvalidToken wraps every reason a token is refused: bad signature,
	// expired, wrong issuer or audience, unknown role.
	ErrInvalidToken = errors.New("invalid token")
	// ErrUnknownKey means no verification key matches the token's kid.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrJWKS wraps failures to fetch or parse the JWKS document.
	ErrJWKS = errors.New("jwks")
	// ErrConfig wraps invalid verifier or policy configuration.
	ErrConfig = errors.New("auth config")
)
