// Package casework simulates the people around a complaint once it is filed:
// agents of every tier working their queues through routing's casework API
// (claim, respond with realistic delays that grow when they are overloaded,
// promise, propose remedies within their tier's cap, transfer sometimes,
// resolve — asking return and refund customers why, which keeps some of
// them), and customers answering the follow-up call with a satisfaction that
// depends on how they were treated.
//
// The behaviour is here, against two small interfaces (Casework, FollowUps);
// routing.go and followup.go adapt them to the services' gRPC APIs.
package casework

import (
	"context"
	"time"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
)

// Agent is one simulated member of the roster.
type Agent struct {
	ID, Name string
	Tier     int
	// Queues the agent works (skills).
	Queues   []string
	Capacity int
	// Speed scales how fast the agent works: 1 is typical, 0.7 a veteran.
	Speed float64
}

// Item is a complaint as an agent sees it in a queue or in their work.
type Item struct {
	ComplaintID, ShopID, Queue, Category, Owner string
	Channel                                     complaintv1.Channel
	Severity                                    complaintv1.Severity
	VIP                                         bool
	AmountFen                                   int64
	TierRequired                                int
	Transfers, Contacts                         int
	FiledAt, FirstResponseAt                    time.Time
	Started                                     bool
	PendingRemedies                             int
	// Open is false once routing sees the complaint resolved or closed.
	Open bool
}

// Casework is the part of routing's API the simulated agents use.
type Casework interface {
	UpsertAgent(ctx context.Context, a Agent) error
	SetOnline(ctx context.Context, a Agent, online bool) error
	// MyWork lists the open complaints the agent holds.
	MyWork(ctx context.Context, a Agent) ([]Item, error)
	// Unassigned lists a queue's unassigned complaints, most urgent first.
	Unassigned(ctx context.Context, a Agent, queue string) ([]Item, error)
	Claim(ctx context.Context, a Agent, complaintID string) error
	Respond(ctx context.Context, a Agent, complaintID string) error
	Promise(ctx context.Context, a Agent, complaintID, text string, within time.Duration) error
	// ProposeRemedy returns the remedy and whether it was approved at once
	// (within the agent's cap).
	ProposeRemedy(ctx context.Context, a Agent, complaintID string, kind complaintv1.RemedyKind, amountFen int64, note string) (string, bool, error)
	Transfer(ctx context.Context, a Agent, complaintID, toQueue, reason string) error
	Resolve(ctx context.Context, a Agent, complaintID string, outcome complaintv1.ResolutionOutcome, remedyID, summary string, retention complaintv1.Retention) error
	// Work returns a complaint's work state (for the customer's judgement).
	Work(ctx context.Context, complaintID string) (Item, error)
}

// FollowUp is a follow-up call waiting to be made.
type FollowUp struct {
	ComplaintID, FollowUpID, ShopID string
	Attempts                        int
	Channel                         complaintv1.Channel
	Retention                       complaintv1.Retention
}

// FollowUps is the part of followup's API the follow-up callers use.
type FollowUps interface {
	// Due lists a shop's follow-ups due by now.
	Due(ctx context.Context, caller Agent, shopID string, now time.Time) ([]FollowUp, error)
	// Attempt records call number attempt: reached with the customer's score
	// (1..5), or not. It returns the attempt number followup recorded, which
	// differs from attempt when followup took the call for a replay.
	Attempt(ctx context.Context, caller Agent, f FollowUp, attempt int, reached bool, score int, comment string) (int, error)
}
