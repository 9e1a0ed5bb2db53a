package checkout

import "context"

// Operator is who asks the flow for a payment, refund, void or close of
// the day: the cashier signed in at the till (or the local user of the
// command line), and for refunds, voids and closing the day the supervisor
// whose PIN authorised it. The UI checks them; the flow records them.
type Operator struct {
	Cashier    string `json:"cashier,omitempty"`
	Supervisor string `json:"supervisor,omitempty"`
}

type operatorKey struct{}

// WithOperator returns ctx carrying op, for the flow to record.
func WithOperator(ctx context.Context, op Operator) context.Context {
	return context.WithValue(ctx, operatorKey{}, op)
}

// OperatorOf returns the operator carried by ctx, zero if none.
func OperatorOf(ctx context.Context) Operator {
	op, _ := ctx.Value(operatorKey{}).(Operator)
	return op
}
