package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims is the token payload: the registered claims plus Kesu's role,
// tier, skills and shop scope.
type Claims struct {
	Role   Role     `json:"role"`
	Tier   int      `json:"tier,omitempty"`
	Skills []string `json:"skills,omitempty"`
	Shops  []string `json:"shops,omitempty"`
	jwt.RegisteredClaims
}

// Identity returns the identity the claims describe.
func (c Claims) Identity() Identity {
	return Identity{Subject: c.Subject, Role: c.Role, Tier: c.Tier, Skills: c.Skills, Shops: c.Shops}
}

// ClaimsFor returns claims for id, ready to Mint.
func ClaimsFor(id Identity) Claims {
	return Claims{Role: id.Role, Tier: id.Tier, Skills: id.Skills, Shops: id.Shops,
		RegisteredClaims: jwt.RegisteredClaims{Subject: id.Subject}}
}

// Mint signs claims with key using HS256, for dev tools and tests. A
// non-zero ttl sets iat to now and exp to now+ttl (a negative ttl mints an
// already expired token); with ttl zero the claims must carry exp.
func Mint(key []byte, claims Claims, ttl time.Duration) (string, error) {
	if len(key) == 0 {
		return "", fmt.Errorf("%w: mint: empty HMAC key", ErrConfig)
	}
	if ttl != 0 {
		now := time.Now()
		claims.IssuedAt = jwt.NewNumericDate(now.Add(min(ttl, 0)))
		claims.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
	}
	if claims.ExpiresAt == nil {
		return "", errors.New("auth: mint: exp required: pass a ttl or set ExpiresAt")
	}
	if err := claims.Identity().Validate(); err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
}
