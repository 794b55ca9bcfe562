package events_test

import (
	"testing"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/events"
)

func TestActorOfRecordsTheCallersRoleAsItsKind(t *testing.T) {
	for _, tc := range []struct {
		role auth.Role
		want complaintv1.ActorKind
	}{
		{auth.RoleAgent, complaintv1.ActorKind_ACTOR_KIND_AGENT},
		{auth.RoleSupervisor, complaintv1.ActorKind_ACTOR_KIND_SUPERVISOR},
		{auth.RolePR, complaintv1.ActorKind_ACTOR_KIND_SUPERVISOR},
		{auth.RoleAdmin, complaintv1.ActorKind_ACTOR_KIND_SYSTEM},
		{auth.RoleIntegration, complaintv1.ActorKind_ACTOR_KIND_EXTERNAL},
	} {
		a := events.ActorOf(auth.Identity{Subject: "alice", Role: tc.role, Tier: 2})
		if a.GetKind() != tc.want || a.GetId() != "alice" || a.GetRole() != string(tc.role) || a.GetTier() != 2 {
			t.Errorf("ActorOf(%s) = %v, want kind %v", tc.role, a, tc.want)
		}
	}
}
