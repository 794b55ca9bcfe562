package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Config configures a Verifier. At least one of HMACKey and JWKSURL is
// required; with both, each token is checked with the key family its alg
// names, so an HS256 token can never be checked against a public key.
type Config struct {
	// HMACKey verifies HS256 tokens (dev).
	HMACKey []byte
	// JWKSURL serves the RS256/ES256 verification keys (production).
	JWKSURL string
	// Issuer and Audience, when set, must match iss and aud.
	Issuer   string
	Audience string

	// HTTPClient fetches the JWKS; default a client with a 10 s timeout.
	HTTPClient *http.Client
	// RefreshInterval is how long fetched keys are trusted before they are
	// fetched again; default 15 minutes.
	RefreshInterval time.Duration
	// MinRefreshInterval is the least time between two fetches triggered by
	// an unknown kid, so forged kids cannot make us hammer the IdP;
	// default 30 s.
	MinRefreshInterval time.Duration
	// Leeway tolerates clock skew on exp/nbf/iat; default 30 s.
	Leeway time.Duration
	// Now is the wall clock used for exp (tokens live on wall time even
	// when the stack runs a simulated clock); default time.Now.
	Now func() time.Time
}

// Verifier checks bearer tokens and returns the identity they carry.
type Verifier struct {
	hmacKey []byte
	jwks    *jwks
	parser  *jwt.Parser
}

// NewVerifier validates cfg and returns a Verifier. It does not fetch the
// JWKS until the first token needs it, so a service can start while the
// identity provider is briefly unreachable.
func NewVerifier(cfg Config) (*Verifier, error) {
	if len(cfg.HMACKey) == 0 && cfg.JWKSURL == "" {
		return nil, fmt.Errorf("%w: an HMAC key or a JWKS URL is required", ErrConfig)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	v := &Verifier{hmacKey: cfg.HMACKey}
	var methods []string
	if len(cfg.HMACKey) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if cfg.JWKSURL != "" {
		u, err := url.Parse(cfg.JWKSURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("%w: JWKS URL %q: must be an absolute http(s) URL", ErrConfig, cfg.JWKSURL)
		}
		client := cfg.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		v.jwks = &jwks{
			url:    cfg.JWKSURL,
			client: client,
			maxAge: orDefault(cfg.RefreshInterval, 15*time.Minute),
			minGap: orDefault(cfg.MinRefreshInterval, 30*time.Second),
			now:    cfg.Now,
		}
		methods = append(methods, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg())
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Verify checks token (without the "Bearer " prefix) and returns its
// identity. Every refusal wraps ErrInvalidToken.
func (v *Verifier) Verify(ctx context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, ErrNoToken
	}
	var claims Claims
	_, err := v.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		switch t.Method.Alg() {
		case jwt.SigningMethodHS256.Alg():
			return v.hmacKey, nil
		default:
			kid, _ := t.Header["kid"].(string)
			return v.jwks.key(ctx, kid, t.Method.Alg())
		}
	})
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	id := claims.Identity()
	if err := id.Validate(); err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return id, nil
}

// IsUnavailable reports whether err means the keys could not be fetched,
// as opposed to the token being bad.
func IsUnavailable(err error) bool { return errors.Is(err, ErrJWKS) }
