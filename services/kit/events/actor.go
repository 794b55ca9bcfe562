package events

import (
	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/auth"
)

// actorKinds is how a caller's role is recorded on the events it causes; every
// service records the same kind for the same role, so reports and timelines can
// tell agents from supervisors and integrations whichever service wrote the event.
var actorKinds = map[auth.Role]complaintv1.ActorKind{
	auth.RoleAgent:       complaintv1.ActorKind_ACTOR_KIND_AGENT,
	auth.RoleSupervisor:  complaintv1.ActorKind_ACTOR_KIND_SUPERVISOR,
	auth.RolePR:          complaintv1.ActorKind_ACTOR_KIND_SUPERVISOR,
	auth.RoleAdmin:       complaintv1.ActorKind_ACTOR_KIND_SYSTEM,
	auth.RoleIntegration: complaintv1.ActorKind_ACTOR_KIND_EXTERNAL,
}

// ActorOf is the event actor of an API caller: its kind from the role, its
// subject as id, the role, and the agent tier at the time of the call.
func ActorOf(id auth.Identity) *complaintv1.Actor {
	return &complaintv1.Actor{Kind: actorKinds[id.Role], Id: id.Subject, Role: string(id.Role), Tier: int32(id.Tier)}
}
