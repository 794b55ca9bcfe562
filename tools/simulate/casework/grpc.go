package casework

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	routingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/routing/v1"
	"github.com/kesu315/kesu/services/kit/auth"
)

// tokens mints and caches each simulated person's dev token: agents act
// under their own identity (tier and skills), so routing checks their caps.
type tokens struct {
	key []byte
	mu  sync.Mutex
	m   map[string]string
}

func (t *tokens) as(id auth.Identity) (grpc.CallOption, error) {
	k := fmt.Sprintf("%s|%s|%d|%v", id.Subject, id.Role, id.Tier, id.Skills)
	t.mu.Lock()
	defer t.mu.Unlock()
	if tok, ok := t.m[k]; ok {
		return grpc.PerRPCCredentials(auth.Bearer(tok)), nil
	}
	tok, err := auth.Mint(t.key, auth.ClaimsFor(id), 24*time.Hour)
	if err != nil {
		return nil, err
	}
	if t.m == nil {
		t.m = map[string]string{}
	}
	t.m[k] = tok
	return grpc.PerRPCCredentials(auth.Bearer(tok)), nil
}

func agentIdentity(a Agent) auth.Identity {
	return auth.Identity{Subject: a.ID, Role: auth.RoleAgent, Tier: a.Tier, Skills: a.Queues}
}

var supervisor = auth.Identity{Subject: "sim-supervisor", Role: auth.RoleSupervisor}

// Routing adapts routing's gRPC API (kesu.routing.v1) to Casework.
type Routing struct {
	c   routingv1.RoutingServiceClient
	tok tokens
}

// NewRouting talks to routing on conn, signing tokens with key (dev HMAC).
func NewRouting(conn grpc.ClientConnInterface, key []byte) *Routing {
	return &Routing{c: routingv1.NewRoutingServiceClient(conn), tok: tokens{key: key}}
}

func (r *Routing) agent(a Agent) (grpc.CallOption, error) { return r.tok.as(agentIdentity(a)) }

// UpsertAgent implements Casework (as the floor supervisor).
func (r *Routing) UpsertAgent(ctx context.Context, a Agent) error {
	o, err := r.tok.as(supervisor)
	if err != nil {
		return err
	}
	_, err = r.c.UpsertAgent(ctx, &routingv1.UpsertAgentRequest{Agent: &routingv1.Agent{
		AgentId: a.ID, Name: a.Name, Tier: int32(a.Tier), Skills: a.Queues, Capacity: int32(a.Capacity),
	}}, o)
	return err
}

// SetOnline implements Casework.
func (r *Routing) SetOnline(ctx context.Context, a Agent, online bool) error {
	o, err := r.agent(a)
	if err != nil {
		return err
	}
	p := routingv1.Presence_PRESENCE_OFFLINE
	if online {
		p = routingv1.Presence_PRESENCE_ONLINE
	}
	_, err = r.c.SetPresence(ctx, &routingv1.SetPresenceRequest{AgentId: a.ID, Presence: p}, o)
	return err
}

// MyWork implements Casework.
func (r *Routing) MyWork(ctx context.Context, a Agent) ([]Item, error) {
	o, err := r.agent(a)
	if err != nil {
		return nil, err
	}
	res, err := r.c.MyWork(ctx, &routingv1.MyWorkRequest{AgentId: a.ID, PageSize: int32(max(a.Capacity, 1) * 2)}, o)
	if err != nil {
		return nil, err
	}
	return items(res.GetItems()), nil
}

// Unassigned implements Casework.
func (r *Routing) Unassigned(ctx context.Context, a Agent, queue string) ([]Item, error) {
	o, err := r.agent(a)
	if err != nil {
		return nil, err
	}
	res, err := r.c.ListQueue(ctx, &routingv1.ListQueueRequest{Queue: queue, UnassignedOnly: true, PageSize: 20}, o)
	if err != nil {
		return nil, err
	}
	return items(res.GetItems()), nil
}

// Claim implements Casework.
func (r *Routing) Claim(ctx context.Context, a Agent, id string) error {
	o, err := r.agent(a)
	if err != nil {
		return err
	}
	_, err = r.c.Claim(ctx, &routingv1.ClaimRequest{ComplaintId: id}, o)
	return err
}

// Respond implements Casework.
func (r *Routing) Respond(ctx context.Context, a Agent, id string) error {
	o, err := r.agent(a)
	if err != nil {
		return err
	}
	_, err = r.c.Respond(ctx, &routingv1.RespondRequest{ComplaintId: id}, o)
	return err
}

// Promise implements Casework.
func (r *Routing) Promise(ctx context.Context, a Agent, id, text string, within time.Duration) error {
	o, err := r.agent(a)
	if err != nil {
		return err
	}
	_, err = r.c.MakePromise(ctx, &routingv1.MakePromiseRequest{ComplaintId: id, Description: text, Within: durationpb.New(within)}, o)
	return err
}

// ProposeRemedy implements Casework.
func (r *Routing) ProposeRemedy(ctx context.Context, a Agent, id string, kind complaintv1.RemedyKind, amountFen int64, note string) (string, bool, error) {
	o, err := r.agent(a)
	if err != nil {
		return "", false, err
	}
	res, err := r.c.ProposeRemedy(ctx, &routingv1.ProposeRemedyRequest{ComplaintId: id, Kind: kind, AmountFen: amountFen, Note: note}, o)
	if err != nil {
		return "", false, err
	}
	return res.GetRemedyId(), res.GetApproved(), nil
}

// Transfer implements Casework.
func (r *Routing) Transfer(ctx context.Context, a Agent, id, toQueue, reason string) error {
	o, err := r.agent(a)
	if err != nil {
		return err
	}
	_, err = r.c.Transfer(ctx, &routingv1.TransferRequest{ComplaintId: id, ToQueue: toQueue, Reason: reason}, o)
	return err
}

// Resolve implements Casework.
func (r *Routing) Resolve(ctx context.Context, a Agent, id string, outcome complaintv1.ResolutionOutcome, remedyID, summary string, retention complaintv1.Retention) error {
	o, err := r.agent(a)
	if err != nil {
		return err
	}
	_, err = r.c.Resolve(ctx, &routingv1.ResolveRequest{ComplaintId: id, Outcome: outcome, RemedyId: remedyID, Summary: summary, Retention: retention}, o)
	return err
}

// Work implements Casework (as the supervisor, who sees every complaint).
func (r *Routing) Work(ctx context.Context, id string) (Item, error) {
	o, err := r.tok.as(supervisor)
	if err != nil {
		return Item{}, err
	}
	res, err := r.c.GetWork(ctx, &routingv1.GetWorkRequest{ComplaintId: id}, o)
	if err != nil {
		return Item{}, err
	}
	return item(res.GetItem()), nil
}

// Visible reports which of ids routing shows in a queue or as someone's
// work: the load mode's "filing → visible in its queue" probe.
func (r *Routing) Visible(ctx context.Context, shop string, ids []string) (map[string]bool, error) {
	o, err := r.tok.as(supervisor)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, id := range ids {
		res, err := r.c.GetWork(ctx, &routingv1.GetWorkRequest{ComplaintId: id}, o)
		if err != nil {
			continue // not projected yet (NotFound)
		}
		if res.GetItem().GetQueue() != "" || res.GetItem().GetOwner() != "" {
			out[id] = true
		}
	}
	return out, nil
}

func items(ws []*routingv1.WorkItem) []Item {
	out := make([]Item, 0, len(ws))
	for _, w := range ws {
		out = append(out, item(w))
	}
	return out
}

func item(w *routingv1.WorkItem) Item {
	it := Item{
		ComplaintID: w.GetComplaintId(), ShopID: w.GetShopId(), Queue: w.GetQueue(), Category: w.GetCategory(),
		Owner: w.GetOwner(), Channel: w.GetChannel(), Severity: w.GetSeverity(), VIP: w.GetVip(),
		AmountFen: w.GetAmountFen(), TierRequired: int(w.GetTierRequired()), Transfers: int(w.GetTransferCount()),
		Contacts: int(w.GetContacts()), Started: w.GetStarted(), PendingRemedies: int(w.GetPendingRemedies()),
		Open: w.GetStatus() == routingv1.WorkStatus_WORK_STATUS_OPEN || w.GetStatus() == routingv1.WorkStatus_WORK_STATUS_UNSPECIFIED,
	}
	if w.GetFiledAt() != nil {
		it.FiledAt = w.GetFiledAt().AsTime()
	}
	if w.GetFirstResponseAt() != nil {
		it.FirstResponseAt = w.GetFirstResponseAt().AsTime()
	}
	return it
}

// FollowUpAPI adapts followup's gRPC API (kesu.followup.v1) to FollowUps.
type FollowUpAPI struct {
	c   followupv1.FollowUpServiceClient
	tok tokens
}

// NewFollowUps talks to followup on conn, signing tokens with key.
func NewFollowUps(conn grpc.ClientConnInterface, key []byte) *FollowUpAPI {
	return &FollowUpAPI{c: followupv1.NewFollowUpServiceClient(conn), tok: tokens{key: key}}
}

// Due implements FollowUps.
func (f *FollowUpAPI) Due(ctx context.Context, caller Agent, shop string, now time.Time) ([]FollowUp, error) {
	o, err := f.tok.as(agentIdentity(caller))
	if err != nil {
		return nil, err
	}
	res, err := f.c.FollowUpQueue(ctx, &followupv1.FollowUpQueueRequest{ShopId: shop, DueBefore: timestamppb.New(now), PageSize: 50}, o)
	if err != nil {
		return nil, err
	}
	var out []FollowUp
	for _, x := range res.GetFollowUps() {
		out = append(out, FollowUp{ComplaintID: x.GetComplaintId(), FollowUpID: x.GetFollowUpId(), ShopID: x.GetShopId(),
			Attempts: int(x.GetAttempts()), Channel: x.GetChannel(), Retention: x.GetRetention()})
	}
	return out, nil
}

// Attempt implements FollowUps.
func (f *FollowUpAPI) Attempt(ctx context.Context, caller Agent, fu FollowUp, attempt int, reached bool, score int, comment string) (int, error) {
	o, err := f.tok.as(agentIdentity(caller))
	if err != nil {
		return 0, err
	}
	req := &followupv1.RecordAttemptRequest{
		ComplaintId: fu.ComplaintID, FollowUpId: fu.FollowUpID, Channel: complaintv1.Channel_CHANNEL_HOTLINE_400,
		Outcome: complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER, Attempt: int32(attempt),
	}
	if reached {
		req.Outcome = complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REACHED
		req.Answer = &followupv1.Answer{Score: int32(score), Comment: comment}
	}
	res, err := f.c.RecordAttempt(ctx, req, o)
	if err != nil {
		return 0, err
	}
	return int(res.GetAttempt()), nil
}
