package checkout

import (
	"context"
	"strings"
	"testing"

	"github.com/guichet/guichet/sync/envelope"
)

// Every payment, refund, void and close records who asked for it, as the
// UI passes it in the context.
func TestOperatorRecorded(t *testing.T) {
	s, _, _ := newClocked(t)
	cashier := WithOperator(context.Background(), Operator{Cashier: "li.wei"})
	sup := WithOperator(context.Background(), Operator{Cashier: "li.wei", Supervisor: "chen.jing"})
	p, err := s.Pay(cashier, 1000, wx)
	if err != nil || p.Operator != "li.wei" {
		t.Fatalf("pay: %+v %v", p, err)
	}
	s.OnResult(envelope.Result{Seq: 1, Key: p.ID, Status: StatusApproved})
	if rc, err := s.Receipt(context.Background(), p.ID); err != nil || rc.Operator != "li.wei" || !strings.Contains(rc.Text(), "Cashier                   li.wei\n") {
		t.Fatalf("receipt: %+v %v", rc, err)
	}
	if p, err = s.Refund(sup, p.ID, 100); err != nil || len(p.Refunds) != 1 || p.Refunds[0].By == nil || *p.Refunds[0].By != OperatorOf(sup) {
		t.Fatalf("refund: %+v %v", p, err)
	}
	q, _ := s.Pay(cashier, 500, wx)
	s.OnResult(envelope.Result{Seq: 3, Key: q.ID, Status: StatusApproved})
	if q, err = s.Void(sup, q.ID); err != nil || q.VoidedBy == nil || q.VoidedBy.Supervisor != "chen.jing" {
		t.Fatalf("void: %+v %v", q, err)
	}
	got, err := s.Get(context.Background(), q.ID)
	if err != nil || got.Operator != "li.wei" || got.VoidedBy == nil || got.VoidedBy.Cashier != "li.wei" {
		t.Fatalf("stored void: %+v %v", got, err)
	}
	r, err := s.CloseDay(sup)
	if err != nil || r.ClosedBy == nil || r.ClosedBy.Supervisor != "chen.jing" {
		t.Fatalf("close: %+v %v", r, err)
	}
}
