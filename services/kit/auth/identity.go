// Package auth verifies the JWT bearer identity every gRPC call carries
// (DESIGN §8) and enforces a per-method role allow-list. Anything finer
// (tier caps, skills, shop scope) is the app layer's decision, using the
// Identity this package puts in the context.
package auth

import (
	"context"
	"fmt"
	"slices"
)

// Role is what an actor is allowed to do in broad strokes.
type Role string

// Roles.
const (
	RoleAgent       Role = "agent"       // handles complaints; has a tier and skills
	RoleSupervisor  Role = "supervisor"  // runs queues, approves remedies
	RolePR          Role = "pr"          // public relations: risk and media cases
	RoleAdmin       Role = "admin"       // operates the platform
	RoleIntegration Role = "integration" // another system (connectors, hotline, ODR)
	RoleBI          Role = "bi"          // read-only reporting
)

// Roles lists every role.
var Roles = []Role{RoleAgent, RoleSupervisor, RolePR, RoleAdmin, RoleIntegration, RoleBI}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Identity is the authenticated actor of a call.
type Identity struct {
	// Subject is the actor id (the token's sub).
	Subject string
	Role    Role
	// Tier is the agent tier 1..3 (0 for other roles); it bounds the
	// remedies an agent may grant.
	Tier int
	// Skills are the skill groups the agent works in.
	Skills []string
	// Shops scopes the actor to these shop ids; empty means every shop.
	Shops []string
}

// Is reports whether the identity has one of roles.
func (id Identity) Is(roles ...Role) bool { return slices.Contains(roles, id.Role) }

// HasSkill reports whether the identity has skill group s.
func (id Identity) HasSkill(s string) bool { return slices.Contains(id.Skills, s) }

// InShop reports whether the identity may act on shop; an empty Shops list
// means every shop.
func (id Identity) InShop(shop string) bool {
	return len(id.Shops) == 0 || slices.Contains(id.Shops, shop)
}

// Validate checks the identity is complete and consistent.
func (id Identity) Validate() error {
	switch {
	case id.Subject == "":
		return fmt.Errorf("sub: required")
	case !id.Role.Valid():
		return fmt.Errorf("role %q: must be one of %v", id.Role, Roles)
	case id.Role == RoleAgent && (id.Tier < 1 || id.Tier > 3):
		return fmt.Errorf("tier %d: an agent needs tier 1, 2 or 3", id.Tier)
	case id.Tier < 0 || id.Tier > 3:
		return fmt.Errorf("tier %d: must be 0 to 3", id.Tier)
	}
	return nil
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity of the call, if any.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
