package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// jwks caches the verification keys of a JSON Web Key Set (RFC 7517).
// Keys are refetched when older than maxAge, and on an unknown kid at most
// once per minGap, which picks up a rotated key without letting forged kids
// trigger a fetch per request.
type jwks struct {
	url    string
	client *http.Client
	maxAge time.Duration
	minGap time.Duration
	now    func() time.Time

	// mu is held across a fetch on purpose: concurrent callers wait for one
	// fetch instead of each starting their own.
	mu        sync.Mutex
	keys      map[string]any // kid → *rsa.PublicKey or *ecdsa.PublicKey
	fetched   time.Time
	attempted time.Time
	lastErr   error // of the latest fetch; reported while no key matches
}

func (j *jwks) key(ctx context.Context, kid, alg string) (any, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	mayFetch := func() bool { return j.attempted.IsZero() || now.Sub(j.attempted) >= j.minGap }
	fetched := false
	if (j.keys == nil || now.Sub(j.fetched) >= j.maxAge) && mayFetch() {
		// On failure keep serving the keys we have: an IdP blip must not
		// log everyone out. The gap also holds after a failure, so an
		// outage does not turn every call into a fetch.
		_ = j.refreshLocked(ctx, now)
		fetched = true
	}
	k, ok := j.lookupLocked(kid)
	if !ok && !fetched && mayFetch() {
		_ = j.refreshLocked(ctx, now)
		k, ok = j.lookupLocked(kid)
	}
	if !ok {
		if j.lastErr != nil {
			return nil, j.lastErr
		}
		return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
	}
	if err := fitsAlg(k, alg); err != nil {
		return nil, fmt.Errorf("kid %q: %w", kid, err)
	}
	return k, nil
}

// lookupLocked finds kid; a token without kid matches a set of one key.
func (j *jwks) lookupLocked(kid string) (any, bool) {
	if kid == "" && len(j.keys) == 1 {
		for _, k := range j.keys {
			return k, true
		}
	}
	k, ok := j.keys[kid]
	return k, ok
}

func (j *jwks) refreshLocked(ctx context.Context, now time.Time) error {
	j.attempted = now
	keys, err := j.fetch(ctx)
	j.lastErr = err
	if err != nil {
		return err
	}
	j.keys, j.fetched = keys, now
	return nil
}

func (j *jwks) fetch(ctx context.Context) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrJWKS, j.url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: fetch %s: %w", ErrJWKS, j.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: fetch %s: HTTP %d", ErrJWKS, j.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrJWKS, j.url, err)
	}
	return ParseJWKS(body)
}

// JWK is one key of a JSON Web Key Set; only public signing keys are read.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	// RSA
	N string `json:"n,omitempty"`
	E string `json:"e,omitempty"`
	// EC
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// ParseJWKS parses a JWKS document into kid → public key. Keys that are
// not for signatures or of an unsupported type are skipped; a malformed key
// of a supported type is an error, as is a set with no usable key.
func ParseJWKS(doc []byte) (map[string]any, error) {
	var set struct {
		Keys []JWK `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("%w: not a JWKS document: %w", ErrJWKS, err)
	}
	keys := make(map[string]any, len(set.Keys))
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		var (
			pub any
			err error
		)
		switch k.Kty {
		case "RSA":
			pub, err = k.rsa()
		case "EC":
			pub, err = k.ecdsa()
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: keys[%d] (kid %q): %w", ErrJWKS, i, k.Kid, err)
		}
		keys[k.Kid] = pub
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no RSA or EC signing key in the set", ErrJWKS)
	}
	return keys, nil
}

func b64(field, s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%s: not base64url", field)
	}
	return b, nil
}

func (k JWK) rsa() (*rsa.PublicKey, error) {
	n, err := b64("n", k.N)
	if err != nil {
		return nil, err
	}
	e, err := b64("e", k.E)
	if err != nil {
		return nil, err
	}
	if len(e) > 4 {
		return nil, fmt.Errorf("e: exponent too large")
	}
	exp := int(new(big.Int).SetBytes(e).Int64())
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
	if pub.N.BitLen() < 2048 {
		return nil, fmt.Errorf("n: %d-bit RSA key, want at least 2048", pub.N.BitLen())
	}
	if exp < 3 || exp%2 == 0 {
		return nil, fmt.Errorf("e: %d is not a valid RSA exponent", exp)
	}
	return pub, nil
}

func (k JWK) ecdsa() (*ecdsa.PublicKey, error) {
	var curve elliptic.Curve
	switch k.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("crv %q: want P-256, P-384 or P-521", k.Crv)
	}
	size := (curve.Params().BitSize + 7) / 8
	x, err := b64("x", k.X)
	if err != nil {
		return nil, err
	}
	y, err := b64("y", k.Y)
	if err != nil {
		return nil, err
	}
	if len(x) != size || len(y) != size {
		return nil, fmt.Errorf("x/y: want %d bytes each for %s", size, k.Crv)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("x/y: %w", err)
	}
	return pub, nil
}

// fitsAlg refuses a key of the wrong family or curve for the token's alg.
func fitsAlg(k any, alg string) error {
	switch alg {
	case "RS256":
		if _, ok := k.(*rsa.PublicKey); ok {
			return nil
		}
	case "ES256":
		if ec, ok := k.(*ecdsa.PublicKey); ok && ec.Curve == elliptic.P256() {
			return nil
		}
	}
	return fmt.Errorf("key does not fit alg %s", alg)
}
